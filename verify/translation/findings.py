"""The unit every sub-check of the translation verifier reports: one named problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """A problem one sub-check found: a stable `code`, a sentence a person can act on, facts."""

    code: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, **({"details": self.details} if self.details else {})}
