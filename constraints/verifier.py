"""The `constraints` verifier: IFEval / Tulu 3 instruction checks on a record's response.

Spec (DESIGN.md §1): `{"instruction_id_list": [...], "kwargs": [{...}, ...], "mode": "strict"|"loose"}`.
One verdict per record: `pass` only if every instruction passes; `fail` if any instruction is
not followed (the reason names the first failures); `error` when the spec itself is broken
(unknown id, bad kwarg, malformed spec: nothing can be trusted) or, with nothing failed, an
instruction could not be decided (punkt data missing). `details` lists every instruction.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from verify.records import Record, Verdict, errored, failed, passed, skipped
from verify.verifier import Options, Verifier, register

SPEC_KEYS = frozenset({"instruction_id_list", "kwargs", "mode"})
SHOWN_FAILURES = 3


@register
class ConstraintsVerifier(Verifier):
    name = "constraints"
    version = "1"
    description = (
        "IFEval's 25 verifiable instructions and Tulu 3's RLVR checks, strict or loose, exact to the reference"
    )
    extra = None
    requires = ("langdetect", "nltk", "numpy")
    runs_in = "process"

    class Options(Options):
        default_mode: Literal["strict", "loose"] = Field(
            "strict", description="mode for records whose spec has no 'mode' (IFEval's strict or loose)"
        )

    def cache_material(self, record: Record, spec: dict[str, Any]) -> Any:
        return {"response": record.response, "prompt": record.prompt, "spec": spec}

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        problem = spec_problem(spec)
        if problem:
            return errored(self.name, f"constraints spec: {problem}", "constraints.bad_spec")
        ids = spec["instruction_id_list"]
        if not ids:
            return skipped(
                self.name, "instruction_id_list is empty: no instruction to check", "constraints.no_instructions"
            )
        mode = spec.get("mode") or self.options.default_mode
        from constraints import evaluate

        results = evaluate(record.response, ids, spec.get("kwargs"), mode, record.prompt)
        return verdict_from(self.name, results, mode)


def spec_problem(spec: Any) -> str | None:
    """What is wrong with a spec's shape, or None. Each kwargs entry is checked later, per id."""
    from constraints.engine import MODES

    if not isinstance(spec, dict):
        return f"must be an object, got {type(spec).__name__}"
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        return f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: instruction_id_list, kwargs, mode"
    ids = spec.get("instruction_id_list")
    if ids is None:
        return "missing 'instruction_id_list'"
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        return "'instruction_id_list' must be a list of strings"
    kwargs = spec.get("kwargs")
    if kwargs is not None:
        if not isinstance(kwargs, list):
            return f"'kwargs' must be a list of objects, got {type(kwargs).__name__}"
        if len(kwargs) != len(ids):
            return f"'kwargs' has {len(kwargs)} entries for {len(ids)} instruction ids"
    mode = spec.get("mode")
    if mode is not None and mode not in MODES:
        return f"'mode' must be 'strict' or 'loose', got {mode!r}"
    return None


def verdict_from(check: str, results: list[Any], mode: str) -> Verdict:
    """Fold per-instruction results into the record's verdict (see the module docstring)."""
    from constraints.engine import BLANK_RESPONSE, FOLLOWED, SPEC_ERROR_CODES

    details = {
        "mode": mode,
        "followed": sum(result.status == "pass" for result in results),
        "total": len(results),
        "instructions": [
            {"id": r.instruction_id, "status": r.status, "code": r.code, "reason": r.reason} for r in results
        ],
    }
    broken = [r for r in results if r.status == "error" and r.code in SPEC_ERROR_CODES]
    if broken:
        return errored(check, _listing(broken), broken[0].code, **details)
    failures = [r for r in results if r.status == "fail"]
    undecided = [r for r in results if r.status == "error"]
    if failures:
        reason = _listing(failures)
        if undecided:
            reason += f"; {len(undecided)} more could not be checked"
        code = failures[0].code if failures[0].code == BLANK_RESPONSE else f"constraints.{failures[0].instruction_id}"
        return failed(check, reason, code, **details)
    if undecided:
        return errored(check, _listing(undecided), undecided[0].code, **details)
    return passed(check, f"all {len(results)} instructions followed ({mode})", FOLLOWED, **details)


def _listing(results: list[Any]) -> str:
    shown = "; ".join(f"{r.instruction_id}: {r.reason}" for r in results[:SHOWN_FAILURES])
    if len(results) > SHOWN_FAILURES:
        shown += f"; and {len(results) - SHOWN_FAILURES} more"
    return shown
