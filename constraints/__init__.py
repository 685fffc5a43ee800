"""Verifiable instruction constraints: IFEval's 25 checkers and Tulu 3's RLVR functions.

Public API (other packages use exactly these):
- `evaluate(response, instruction_ids, kwargs=None, mode="strict", prompt="")` → one
  `InstructionResult` per id, with status "pass" / "fail" / "error", a code and a reason;
- `LANGUAGE_INDEPENDENT`: ids whose verdict survives translating the response (format and
  structure checks), which the translation verifier re-runs on translated text;
- `describe()`: each registered id with its kwargs and a one-line description;
- `IFEVAL_IDS`, `TULU_IDS`: the registered ids of each family;
- `language_probabilities(text, seed)`: langdetect's ranked probabilities, computed by this
  package's faster equivalent of langdetect (the translation verifier's language ID uses it).

These names load on first access (PEP 562), so importing the package, or its verifier
module when `verify checks` lists verifiers, costs almost nothing; langdetect's profiles and
nltk's punkt model load only when a check first needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "evaluate": "constraints.api",
    "describe": "constraints.api",
    "InstructionResult": "constraints.api",
    "LANGUAGE_INDEPENDENT": "constraints.api",
    "IFEVAL_IDS": "constraints.api",
    "TULU_IDS": "constraints.api",
    "MODES": "constraints.api",
    "language_probabilities": "constraints.langid",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'constraints' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
