"""Compiled-pattern cache for the patterns IFEval builds from kwargs (keywords, markers).

`re`'s own cache holds 512 patterns and is shared with every other library in the process;
a corpus with thousands of distinct keywords would keep recompiling them.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=8192)
def compiled(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)
