"""The `code` check's spec (DESIGN.md §1), read strictly: a malformed spec is named, never guessed.

Accepted shapes (`language` may be omitted and then means python):

    {"language": "python", "tests": "<assert script>", "entry_point": "f"}     # script
    {"language": "python", "tests": [{"stdin": "1 2\\n", "stdout": "3\\n"}]}   # stdin/stdout
    {"language": "python", "entry_point": "f",
     "tests": [{"args": [1, 2], "kwargs": {}, "expected": 3}]}                # call-based

plus optional `timeout_s`, `memory_mb` (within the verifier's ceilings) and `prompt_prefix`
(set by the HumanEval adapter). Unknown keys are rejected so a typo is an `error` verdict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["script", "call", "program"]
LANGUAGES = {"python", "python3", "py"}
SPEC_KEYS = {"language", "tests", "entry_point", "timeout_s", "memory_mb", "prompt_prefix"}
STDIO_KEYS = {"stdin", "stdout"}
CALL_KEYS = {"args", "kwargs", "expected"}


class SpecError(ValueError):
    """The spec cannot be used; `code` is the verdict code, the message names the field."""

    def __init__(self, message: str, code: str = "code.bad_spec") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StdioCase:
    stdin: str
    stdout: str


@dataclass(frozen=True)
class CallCase:
    args: str  # JSON text, decoded afresh in the sandbox for every case
    kwargs: str
    expected: str


@dataclass(frozen=True)
class CodeSpec:
    mode: Mode
    tests: str = ""
    stdio: tuple[StdioCase, ...] = ()
    calls: tuple[CallCase, ...] = ()
    entry_point: str | None = None
    prompt_prefix: str | None = None
    timeout_s: float | None = None
    memory_mb: int | None = None

    @property
    def case_count(self) -> int:
        return len(self.stdio) or len(self.calls)


def parse_spec(spec: Any, max_timeout_s: float, max_memory_mb: int) -> CodeSpec:
    """Validate a record's `checks.code`; raise SpecError naming what is wrong."""
    if not isinstance(spec, dict):
        raise SpecError(f"checks.code must be an object, got {type(spec).__name__}")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise SpecError(f"checks.code has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SPEC_KEYS))}")
    language = spec.get("language", "python")
    if not isinstance(language, str):
        raise SpecError(f"checks.code.language must be a string, got {type(language).__name__}")
    if language.strip().lower() not in LANGUAGES:
        raise SpecError(f"language {language!r} is not supported; only python runs in the sandbox", "code.unsupported_language")
    entry_point = optional_string(spec, "entry_point")
    if entry_point is not None and not entry_point.isidentifier():
        raise SpecError(f"checks.code.entry_point {entry_point!r} is not a Python identifier")
    prompt_prefix = optional_string(spec, "prompt_prefix")
    timeout_s = optional_number(spec, "timeout_s", max_timeout_s, "max_timeout_s")
    memory = optional_number(spec, "memory_mb", max_memory_mb, "max_memory_mb")
    memory_mb = int(memory) if memory is not None else None
    common = {"entry_point": entry_point, "prompt_prefix": prompt_prefix, "timeout_s": timeout_s, "memory_mb": memory_mb}
    if "tests" not in spec:
        raise SpecError("checks.code has no 'tests'")
    tests = spec["tests"]
    if isinstance(tests, str):
        if not tests.strip():
            raise SpecError("checks.code.tests is an empty script")
        return CodeSpec(mode="script", tests=tests, **common)
    if not isinstance(tests, list):
        raise SpecError(f"checks.code.tests must be a string or a list of cases, got {type(tests).__name__}")
    if not tests:
        raise SpecError("checks.code.tests is an empty list")
    if all(isinstance(case, dict) and "expected" in case for case in tests):
        if entry_point is None:
            raise SpecError("call-based tests need checks.code.entry_point")
        return CodeSpec(mode="call", calls=tuple(call_case(case, i) for i, case in enumerate(tests)), **common)
    return CodeSpec(mode="program", stdio=tuple(stdio_case(case, i) for i, case in enumerate(tests)), **common)


def optional_string(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise SpecError(f"checks.code.{key} must be a string, got {type(value).__name__}")
    return value


def optional_number(spec: dict[str, Any], key: str, ceiling: float, option: str) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SpecError(f"checks.code.{key} must be a positive number, got {value!r}")
    if value > ceiling:
        raise SpecError(f"checks.code.{key} {value} exceeds the verifier's ceiling {ceiling} (option {option})")
    return float(value)


def stdio_case(case: Any, index: int) -> StdioCase:
    where = f"checks.code.tests[{index}]"
    if not isinstance(case, dict):
        raise SpecError(f"{where} must be an object, got {type(case).__name__}")
    unknown = sorted(set(case) - STDIO_KEYS)
    if unknown:
        raise SpecError(f"{where} has unknown field(s) {', '.join(unknown)}; a stdin/stdout case has stdin and stdout")
    if "stdout" not in case:
        raise SpecError(f"{where} has no 'stdout'")
    stdin, stdout = case.get("stdin", ""), case["stdout"]
    if not isinstance(stdin, str) or not isinstance(stdout, str):
        raise SpecError(f"{where}.stdin and .stdout must be strings")
    return StdioCase(stdin, stdout)


def call_case(case: dict[str, Any], index: int) -> CallCase:
    where = f"checks.code.tests[{index}]"
    unknown = sorted(set(case) - CALL_KEYS)
    if unknown:
        raise SpecError(f"{where} has unknown field(s) {', '.join(unknown)}; a call case has args, kwargs, expected")
    args, kwargs = case.get("args", []), case.get("kwargs", {})
    if not isinstance(args, list):
        raise SpecError(f"{where}.args must be a list, got {type(args).__name__}")
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise SpecError(f"{where}.kwargs must be an object with string keys")
    try:
        texts = [json.dumps(value, allow_nan=False) for value in (args, kwargs, case["expected"])]
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where} is not plain JSON: {exc}") from exc
    return CallCase(*texts)
