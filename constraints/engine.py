"""Evaluate a response against a list of instructions, in IFEval's strict or loose mode.

Strict: the response as written must follow the instruction. Loose: the instruction passes
if the response or any of the reference's 7 variants follows it (asterisks removed, first
and/or last line removed). A blank response fails every instruction, in both modes, as in the
reference. Validation happens before any checking: an unknown id or a bad kwarg is an
`error` whatever the response is, because no verdict can be trusted from a broken spec.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from constraints import ifeval, tulu  # noqa: F401  (importing them registers every checker)
from constraints.params import Params, describe_validation_error
from constraints.punkt import PunktMissing
from constraints.registry import REGISTRY, Checker, Finding
from constraints.text import Response, response_for

MODES = ("strict", "loose")

FOLLOWED = "constraints.followed"
NOT_FOLLOWED = "constraints.not_followed"
BLANK_RESPONSE = "constraints.blank_response"
UNKNOWN_ID = "constraints.unknown_id"
BAD_KWARGS = "constraints.bad_kwargs"
PUNKT_MISSING = "constraints.punkt_missing"
CHECKER_CRASH = "constraints.checker_crash"
SPEC_ERROR_CODES = frozenset({UNKNOWN_ID, BAD_KWARGS})


@dataclass(frozen=True)
class InstructionResult:
    """One instruction's outcome: status "pass" | "fail" | "error", a stable code, a reason."""

    instruction_id: str
    status: str
    reason: str
    code: str


def evaluate(
    response: str,
    instruction_ids: list[str],
    kwargs: list[dict[str, Any] | None] | None = None,
    mode: str = "strict",
    prompt: str = "",
) -> list[InstructionResult]:
    """Check `response` against each instruction id with its kwargs; one result per id.

    `kwargs` may be None (no kwargs for any id) and its dicts may hold None values (the HF
    copy of IFEval pads every kwarg with null): None-valued keys are dropped. `prompt` is the
    user turn; IFEval's evaluation hands it to checkers that read the prompt, and none of the
    registered ones does, so it never changes a verdict today. Raises ValueError for an
    unknown mode or a kwargs list of the wrong length (caller errors, not data errors).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'strict' or 'loose', got {mode!r}")
    if kwargs is None:
        kwargs = [None] * len(instruction_ids)
    if len(kwargs) != len(instruction_ids):
        raise ValueError(f"{len(kwargs)} kwargs entries for {len(instruction_ids)} instruction ids")
    current = response_for(response)
    return [
        _evaluate_one(current, instruction_id, raw, mode)
        for instruction_id, raw in zip(instruction_ids, kwargs, strict=True)
    ]


_VALIDATED: dict[tuple[str, str], tuple[Checker, Params] | InstructionResult] = {}
_VALIDATED_LIMIT = 20_000


def validate(instruction_id: Any, raw: Any) -> tuple[Checker, Params] | InstructionResult:
    """The checker and its typed params, or the `error` result saying what is wrong.

    Remembered per (id, repr of the kwargs): a dataset repeats the same instruction with the
    same kwargs on many rows, and each row is often checked in both modes.
    """
    if not isinstance(instruction_id, str) or not isinstance(raw, (dict, type(None))):
        return _validate(instruction_id, raw)
    key = (instruction_id, repr(raw))
    found = _VALIDATED.get(key)
    if found is None:
        found = _validate(instruction_id, raw)
        if len(_VALIDATED) >= _VALIDATED_LIMIT:
            _VALIDATED.clear()
        _VALIDATED[key] = found
    return found


def _validate(instruction_id: Any, raw: Any) -> tuple[Checker, Params] | InstructionResult:
    if not isinstance(instruction_id, str):
        return InstructionResult(
            str(instruction_id), "error", f"instruction id must be a string, got {instruction_id!r}", UNKNOWN_ID
        )
    checker = REGISTRY.get(instruction_id)
    if checker is None:
        close = difflib.get_close_matches(instruction_id, REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; `verify checks` lists the known ids"
        return InstructionResult(
            instruction_id, "error", f"unknown instruction id {instruction_id!r}{hint}", UNKNOWN_ID
        )
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return InstructionResult(
            instruction_id, "error", f"kwargs must be an object, got {type(raw).__name__}", BAD_KWARGS
        )
    present = {key: value for key, value in raw.items() if value is not None}
    try:
        return checker, checker.params(**present)
    except ValidationError as exc:
        return InstructionResult(instruction_id, "error", describe_validation_error(exc), BAD_KWARGS)
    except TypeError as exc:  # non-string keys
        return InstructionResult(instruction_id, "error", f"bad kwargs: {exc}", BAD_KWARGS)


def _evaluate_one(response: Response, instruction_id: Any, raw: Any, mode: str) -> InstructionResult:
    validated = validate(instruction_id, raw)
    if isinstance(validated, InstructionResult):
        return validated
    checker, params = validated
    if response.text.blank:
        return InstructionResult(
            checker.id, "fail", "the response is blank; a blank response follows no instruction", BLANK_RESPONSE
        )
    try:
        finding = checker.check(response.text, params)
        if finding.ok or mode == "strict":
            return _result(checker.id, finding)
        for how, variant in response.loose_variants:
            relaxed = checker.check(variant, params)
            if relaxed.ok:
                reason = f"followed with {how} (loose mode): {relaxed.reason}; as written: {finding.reason}"
                return _result(checker.id, Finding(True, reason, relaxed.code))
        if response.loose_variants:
            reason = f"{finding.reason} (none of the {len(response.loose_variants)} loose variants follows it either)"
            finding = Finding(False, reason, finding.code)
        return _result(checker.id, finding)
    except PunktMissing as exc:
        return InstructionResult(checker.id, "error", str(exc), PUNKT_MISSING)
    except Exception as exc:  # a checker bug or an input it cannot handle: undecided, never pass/fail
        return InstructionResult(checker.id, "error", f"could not decide: {type(exc).__name__}: {exc}", CHECKER_CRASH)


def _result(instruction_id: str, finding: Finding) -> InstructionResult:
    if finding.ok:
        return InstructionResult(instruction_id, "pass", finding.reason, finding.code or FOLLOWED)
    return InstructionResult(instruction_id, "fail", finding.reason, finding.code or NOT_FOLLOWED)
