"""IFEval's 25 instruction checkers, one module per id namespace; importing registers them.

Semantics follow google-research's current `instruction_following_eval` (the reference the
shared corpus was scored with); each checker's docstring states the rule it implements.
"""

from constraints.ifeval import (  # noqa: F401  (imported for registration)
    change_case,
    combination,
    content,
    detectable_format,
    keywords,
    language,
    length,
    punctuation,
    startend,
)
