"""A verifier whose dependency is missing: the pipeline must report it, not crash or pass."""

from __future__ import annotations

from typing import Any

from verify.records import Record, Verdict, passed
from verify.verifier import Verifier, register


@register
class NeedsMissing(Verifier):
    name = "needs_missing"
    version = "1"
    extra = "imaginary"
    requires = ("a_module_that_does_not_exist_anywhere",)

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        return passed(self.name, "never reached")
