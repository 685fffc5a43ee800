"""The `math` verifier as the pipeline uses it: registry, options, spec errors, the grader pool,
pathological inputs (never hang, never fail on a timeout), and clean shutdown."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from verify import verifier as registry
from verify.mathgrade.verifier import MathVerifier
from verify.records import Record


def record(response: str, index: int = 1) -> Record:
    return Record(
        f"r{index}", index, [{"role": "user", "content": "q"}, {"role": "assistant", "content": response}], {}
    )


@pytest.fixture(scope="module")
def math_verifier():
    verifier = MathVerifier({"timeout_s": 3, "workers": 2})
    yield verifier
    verifier.close()


def test_registered_under_math_with_its_identity() -> None:
    cls = registry.get("math")
    assert cls is MathVerifier
    assert (cls.name, cls.runs_in) == ("math", "main")
    assert cls.version and cls.description


def test_options_reject_unknown_keys_and_strategies() -> None:
    with pytest.raises(ValueError, match="invalid options"):
        MathVerifier({"timeout": 3})
    with pytest.raises(ValueError, match="unknown extraction strategy 'boxes'"):
        MathVerifier({"extract": ["boxes"]})
    assert MathVerifier({"extract": ["boxed", "last_number"]}).options.extract == ("boxed", "last_number")


def test_module_imports_without_sympy() -> None:
    import subprocess
    import sys

    code = "import sys, verify.mathgrade.verifier; print('sympy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cache_material_is_response_and_spec(math_verifier: MathVerifier) -> None:
    spec = {"answer": "18"}
    assert math_verifier.cache_material(record("x"), spec) == {"response": "x", "spec": spec}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({}, "the math spec has no 'answer' field (the gold answer)"),
        ({"answer": ["1"]}, "'answer' must be a string or a number, got list"),
        ({"answer": True}, "'answer' must be a string or a number, got bool"),
        (
            {"answer": "1", "gold": "1"},
            "unknown field 'gold' in the math spec; known: answer, extract, rel_tol, ordered",
        ),
        ({"answer": "1", "extract": "boxed"}, "'extract' must be a list of strategy names"),
        ({"answer": "1", "rel_tol": -1}, "'rel_tol' must be a non-negative number"),
        ({"answer": "1", "ordered": "yes"}, "'ordered' must be true or false"),
    ],
)
def test_bad_spec_is_an_error_naming_the_field(math_verifier: MathVerifier, spec: dict, reason: str) -> None:
    verdict = math_verifier.verify(record("\\boxed{1}"), spec)
    assert (verdict.status, verdict.code, verdict.reason) == ("error", "math.bad_spec", reason)


def test_unknown_strategy_in_spec_is_an_error(math_verifier: MathVerifier) -> None:
    verdict = math_verifier.verify(record("\\boxed{1}"), {"answer": "1", "extract": ["box"]})
    assert verdict.code == "math.bad_spec" and "unknown extraction strategy 'box'" in verdict.reason


def test_numeric_gold_is_accepted(math_verifier: MathVerifier) -> None:
    assert math_verifier.verify(record("#### 18"), {"answer": 18}).status == "pass"


def test_no_answer_reason(math_verifier: MathVerifier) -> None:
    verdict = math_verifier.verify(record("I am not sure how to solve this."), {"answer": "5"})
    assert (verdict.status, verdict.code) == ("fail", "math.no_answer")
    assert verdict.reason == (
        "no final answer found (looked for: final answer, boxed, ####, answer is, Answer:, bare answer, closing sentence)"
    )


def test_per_record_extract_override(math_verifier: MathVerifier) -> None:
    response = "Adding 3 apples to 4 pears makes 7 fruits overall, I believe"
    assert math_verifier.verify(record(response), {"answer": "7"}).code == "math.no_answer"
    assert math_verifier.verify(record(response), {"answer": "7", "extract": ["last_number"]}).status == "pass"


def test_missing_assistant_turn_is_an_error(math_verifier: MathVerifier) -> None:
    bare = Record("r", 1, [{"role": "user", "content": "q"}], {})
    verdict = math_verifier.verify(bare, {"answer": "1"})
    assert (verdict.status, verdict.code) == ("error", "math.no_response")


def test_batch_keeps_order_and_mixes_cheap_and_symbolic(math_verifier: MathVerifier) -> None:
    items = [
        (record("\\boxed{5}", 1), {"answer": "5"}),
        (record("\\boxed{\\frac{1}{\\sqrt{2}}}", 2), {"answer": "\\frac{\\sqrt{2}}{2}"}),
        (record("\\boxed{6}", 3), {"answer": "5"}),
        (record("\\boxed{(x+1)^2}", 4), {"answer": "x^2+2x+1"}),
        (record("\\boxed{x^2}", 5), {"answer": "x^3"}),
    ]
    verdicts = math_verifier.verify_batch(items)
    assert [v.status for v in verdicts] == ["pass", "pass", "fail", "pass", "fail"]
    assert verdicts[1].details["decided_by"] == "sympy" and verdicts[0].details["decided_by"] == "string"
    assert all(v.check == "math" and v.seconds >= 0 for v in verdicts)


PATHOLOGICAL = [
    ("\\boxed{9^{9^{9^9}}}", "5"),
    ("\\boxed{9^{9^{9^9}}}", "9^{9^{9^9}}"),
    ("\\boxed{10**10**10}", "10^{10^{10}}"),
    ("\\boxed{10**10**10}", "10^{10^{10}} + 1"),
    ("\\boxed{x^{100000}}", "x^{99999}"),
    ("\\boxed{(10^9)!}", "5"),
    ("\\boxed{(10^9)!}", "(10^9)! + 1"),
    ("\\boxed{" + "9" * 100_000 + "}", "5"),
    ("\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}", "1"),
    ("x" * 100_000 + " the answer is 5", "5"),
    ("$" * 50_000 + "\\boxed{" * 10_000, "5"),
    ("\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "2"),
]


def test_pathological_inputs_come_back_fast(math_verifier: MathVerifier) -> None:
    """Each case is decided or errors within the timeout; a timeout is never a fail."""
    items = [(record(response, i), {"answer": gold}) for i, (response, gold) in enumerate(PATHOLOGICAL)]
    started = time.monotonic()
    verdicts = math_verifier.verify_batch(items)
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"{len(items)} pathological cases took {elapsed:.1f} s"
    by_case = {
        gold + "|" + response[:30]: verdict for (response, gold), verdict in zip(PATHOLOGICAL, verdicts, strict=True)
    }
    for key, verdict in by_case.items():
        assert verdict.status in ("pass", "fail", "error"), key
        if verdict.code == "math.timeout":
            assert verdict.status == "error", key
        assert verdict.seconds < 3 + 5, f"{key}: {verdict.seconds:.1f} s"
    assert verdicts[0].status == "fail"  # a tower against a small number is decided
    assert verdicts[1].status == "pass"  # the same tower is equal to itself
    assert verdicts[2].status == "pass"
    assert (verdicts[6].status, verdicts[6].code) == ("error", "math.too_large")
    assert (verdicts[7].status, verdicts[7].code) == ("error", "math.too_long")
    assert verdicts[9].status == "pass"


def test_a_grader_timeout_is_an_error_and_the_pool_recovers() -> None:
    """sympy needs minutes to simplify this difference of sums; the grader is killed at 3 s."""
    verifier = MathVerifier({"timeout_s": 3, "workers": 1})
    try:
        slow = (
            record("\\boxed{\\sum_{k=1}^{n} f(k)^{300}}", 1),
            {"answer": "\\sum_{k=1}^{n} (f(k)+1)^{300}"},
        )
        easy = (record("\\boxed{\\frac{1}{\\sqrt{2}}}", 2), {"answer": "\\frac{\\sqrt{2}}{2}"})
        started = time.monotonic()
        verdicts = verifier.verify_batch([slow, easy])
        assert time.monotonic() - started < 30
        assert (verdicts[0].status, verdicts[0].code) == ("error", "math.timeout")
        assert verdicts[0].reason.endswith("took over 3 s; the grader was killed")
        assert verdicts[1].status == "pass"
        assert verifier._pool.restarts == 1
    finally:
        verifier.close()


def test_close_leaves_no_grader_processes() -> None:
    verifier = MathVerifier({"workers": 2})
    verifier.verify_batch([(record("\\boxed{\\sqrt{4}}", i), {"answer": "2"}) for i in range(4)])
    pids = verifier._pool.pids()
    assert len(pids) == 2
    verifier.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
