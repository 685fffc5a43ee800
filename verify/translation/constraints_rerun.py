"""Re-running a record's language-independent constraints on its translated response.

When an instruction-following row is translated, constraints such as "no commas", "exactly
3 bullet points" or "wrap the answer in JSON" must still hold in the new language, while
language-bound ones ("answer in English", "all capitals") cannot. The constraints package
owns both the checkers and the list of which ids are language-independent; this module only
selects and calls them (`constraints.evaluate`, `constraints.LANGUAGE_INDEPENDENT`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verify.translation.findings import Finding


@dataclass
class Rerun:
    """What re-running found: failures, an error that prevented it, and facts for details."""

    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _selected(spec: dict[str, Any], independent: frozenset[str]) -> tuple[list[str], list[dict[str, Any]]] | str:
    ids = spec.get("instruction_id_list")
    kwargs = spec.get("kwargs")
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        return "checks.constraints.instruction_id_list is not a list of strings"
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(item, dict) for item in kwargs):
        return "checks.constraints.kwargs is not a list of objects as long as instruction_id_list"
    chosen = [
        (instruction, arguments)
        for instruction, arguments in zip(ids, kwargs, strict=True)
        if instruction in independent
    ]
    return [instruction for instruction, _ in chosen], [arguments for _, arguments in chosen]


def rerun(translation: str, source: str, spec: dict[str, Any]) -> Rerun:
    """Evaluate the language-independent constraints of `spec` on the translation (and, for
    the message, on the source: a constraint the source already broke is said to be so)."""
    try:
        import constraints
    except ImportError as exc:
        return Rerun(error=f"the constraints package cannot be imported: {exc}")
    independent = frozenset(constraints.LANGUAGE_INDEPENDENT)
    selection = _selected(spec, independent)
    if isinstance(selection, str):
        # the constraints check reports its own malformed spec; here it is only noted
        return Rerun(details={"not_rerun": selection})
    ids, kwargs = selection
    all_ids = spec.get("instruction_id_list") or []
    details: dict[str, Any] = {
        "rerun": ids,
        "language_dependent": [item for item in all_ids if item not in independent],
    }
    if not ids:
        return Rerun(details=details)
    mode = spec.get("mode", "strict")
    try:
        translated = constraints.evaluate(translation, ids, kwargs, mode=mode, prompt="")
        original = constraints.evaluate(source, ids, kwargs, mode=mode, prompt="")
    except ValueError as exc:  # a bad mode: the constraints check reports it as its own error
        details["not_rerun"] = str(exc)
        return Rerun(details=details)
    findings = []
    for result, source_result in zip(translated, original, strict=True):
        if result.status != "fail":
            continue
        also = " (the source breaks it too)" if source_result.status == "fail" else ""
        findings.append(
            Finding(
                "translation.constraint_failed",
                f"the translation breaks constraint {result.instruction_id}: {result.reason}{also}",
                {
                    "instruction_id": result.instruction_id,
                    "constraint_code": result.code,
                    "source_status": source_result.status,
                },
            )  # fmt: skip
        )
    details["results"] = {result.instruction_id: result.status for result in translated}
    return Rerun(findings=findings, details=details)
