"""The `math` check: the response's final answer must equal the gold answer.

Execution model (`runs_in = "main"`): the main process extracts both answers and settles the
cheap cases itself (equal spellings, plain numbers: no IPC); everything that needs sympy goes to
a `verify.killable.KillablePool` of grader processes, a batch at a time, concurrently. A case
past `timeout_s` has its grader SIGKILLed and restarted and gets `error` / `math.timeout`,
never a fail. See docs/math.md for the extraction order, the equivalence rules and the spec.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import Field, field_validator

from verify.mathgrade.extract import DEFAULT_ORDER, GOLD_ORDER, LABELS, STRATEGIES, extract
from verify.mathgrade.grade import Settings, decide_cheap, shorten
from verify.records import Record, RecordError, Verdict, errored, failed
from verify.verifier import Options as VerifierOptions
from verify.verifier import Verifier, register

SPEC_KEYS = ("answer", "extract", "rel_tol", "ordered")


def _check_strategies(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown extraction strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}")
    if not names:
        raise ValueError("at least one extraction strategy is needed")
    return tuple(names)


@register
class MathVerifier(Verifier):
    name = "math"
    version = "1.0.0"
    description = "The final answer (boxed, 'Final Answer', '####', ...) equals the gold answer, checked with sympy."
    extra = None
    requires = ("sympy", "latex2sympy2_extended")
    runs_in = "main"

    class Options(VerifierOptions):
        workers: int | None = Field(None, ge=1, description="grader processes; None = os.cpu_count()")
        timeout_s: float = Field(
            5.0, gt=0, description="hard limit per case; past it the grader is killed -> error math.timeout"
        )
        extract: tuple[str, ...] = Field(
            DEFAULT_ORDER, description="extraction strategies for responses, tried in order"
        )
        rel_tol: float | None = Field(
            None, ge=0, description="accept numbers within this relative tolerance (off: exact rules)"
        )
        ordered: bool = Field(False, description="compare bare lists in order (default: any order, like roots)")
        max_answer_chars: int = Field(
            2000, ge=1, description="longer extracted answers are not graded (error math.too_long)"
        )
        memory_mb: int | None = Field(2048, ge=64, description="address-space limit of each grader process")

        @field_validator("extract")
        @classmethod
        def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
            return _check_strategies(value)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._pool: Any = None

    def cache_material(self, record: Record, spec: dict[str, Any]) -> Any:
        return {"response": record.response, "spec": spec}

    # ---------------------------------------------------------------- batch

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        return self.verify_batch([(record, spec)])[0]

    def verify_batch(self, items: Sequence[tuple[Record, dict[str, Any]]]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        jobs: list[tuple[int, dict[str, Any], float]] = []
        for index, (record, spec) in enumerate(items):
            started = time.perf_counter()
            decided = self._prepare(record, spec)
            seconds = time.perf_counter() - started
            if isinstance(decided, Verdict):
                verdicts[index] = decided.with_seconds(seconds)
            else:
                jobs.append((index, decided, seconds))
        if jobs:
            outcomes = self._grader_pool().run([payload for _, payload, _ in jobs])
            for (index, payload, seconds), result in zip(jobs, outcomes, strict=True):
                verdicts[index] = self._from_outcome(result, payload).with_seconds(seconds + result.seconds)
        return [verdict for verdict in verdicts if verdict is not None]

    def _grader_pool(self) -> Any:
        if self._pool is None:
            from verify.killable import KillablePool

            self._pool = KillablePool(
                "verify.mathgrade.worker:grade_job",
                workers=self.options.workers,
                timeout_s=self.options.timeout_s,
                memory_mb=self.options.memory_mb,
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # ---------------------------------------------------------------- one record

    def _prepare(self, record: Record, spec: dict[str, Any]) -> Verdict | dict[str, Any]:
        """A verdict decided here, or the payload for a grader worker."""
        parsed = self._read_spec(spec)
        if isinstance(parsed, Verdict):
            return parsed
        gold_text, order, settings = parsed
        try:
            response = record.response
        except RecordError as exc:
            return errored(self.name, f"no response to grade: {exc}", "math.no_response")
        gold = extract(gold_text, GOLD_ORDER)
        if gold is None:
            return errored(self.name, "the gold answer is empty", "math.bad_gold", gold=shorten(gold_text, 200))
        pred = extract(response, order)
        if pred is None:
            looked = ", ".join(LABELS[name] for name in order)
            return failed(
                self.name,
                f"no final answer found (looked for: {looked})",
                "math.no_answer",
                gold=shorten(gold.text, 200),
            )
        decided = decide_cheap(gold.text, pred.text, pred.method, settings)
        if decided is not None:
            return _verdict(self.name, decided)
        return {"gold": gold.text, "pred": pred.text, "method": pred.method, "settings": settings.to_dict()}

    def _read_spec(self, spec: Any) -> Verdict | tuple[str, tuple[str, ...], Settings]:
        """The gold text, extraction order and settings, or an `error` naming the bad field."""
        if not isinstance(spec, dict):
            return errored(self.name, f"the math spec must be an object, got {type(spec).__name__}", "math.bad_spec")
        unknown = [key for key in spec if key not in SPEC_KEYS]
        if unknown:
            return errored(
                self.name,
                f"unknown field {unknown[0]!r} in the math spec; known: {', '.join(SPEC_KEYS)}",
                "math.bad_spec",
            )
        if "answer" not in spec:
            return errored(self.name, "the math spec has no 'answer' field (the gold answer)", "math.bad_spec")
        answer = spec["answer"]
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            return errored(
                self.name, f"'answer' must be a string or a number, got {type(answer).__name__}", "math.bad_spec"
            )
        order = self.options.extract
        if "extract" in spec:
            names = spec["extract"]
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                return errored(self.name, "'extract' must be a list of strategy names", "math.bad_spec")
            try:
                order = _check_strategies(names)
            except ValueError as exc:
                return errored(self.name, f"'extract': {exc}", "math.bad_spec")
        rel_tol = spec.get("rel_tol", self.options.rel_tol)
        if rel_tol is not None and (isinstance(rel_tol, bool) or not isinstance(rel_tol, (int, float)) or rel_tol < 0):
            return errored(self.name, "'rel_tol' must be a non-negative number", "math.bad_spec")
        ordered = spec.get("ordered", self.options.ordered)
        if not isinstance(ordered, bool):
            return errored(self.name, "'ordered' must be true or false", "math.bad_spec")
        settings = Settings(rel_tol=rel_tol, ordered=ordered, max_answer_chars=self.options.max_answer_chars)
        return str(answer), order, settings

    def _from_outcome(self, result: Any, payload: dict[str, Any]) -> Verdict:
        facts = {
            "extracted": shorten(payload["pred"], 200),
            "method": payload["method"],
            "gold": shorten(payload["gold"], 200),
        }
        if result.status == "ok":
            return _verdict(self.name, result.value)
        if result.status == "timeout":
            return errored(
                self.name,
                f"grading {shorten(payload['pred'], 60)!r} against {shorten(payload['gold'], 60)!r} took over "
                f"{self.options.timeout_s:g} s; the grader was killed",
                "math.timeout",
                **facts,
            )
        if result.status == "crashed":
            return errored(self.name, f"the grader process died: {result.error}", "math.crash", **facts)
        return errored(self.name, f"the grader failed: {result.error}", "math.grader_error", **facts)


def _verdict(check: str, outcome: dict[str, Any]) -> Verdict:
    return Verdict(check, outcome["status"], outcome["reason"], outcome["code"], outcome["details"])
