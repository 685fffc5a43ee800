"""The `code` verifier end to end in the real sandbox: test formats, per-test results, errors."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.verifier import CodeVerifier
from verify.formats import from_humaneval
from verify.records import Record
from verify.verifier import get

pytestmark = pytest.mark.docker


def record(response: str) -> Record:
    return Record(id="t", line=1, messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": response}], checks={})


def block(code: str) -> str:
    return f"Sure:\n\n```python\n{code}```\n"


@pytest.fixture(scope="module")
def verifier():
    built = CodeVerifier({"pool_size": 2, "timeout_s": 3})
    yield built
    built.close()


def test_registered_under_code():
    assert get("code") is CodeVerifier
    assert CodeVerifier.runs_in == "main"


def test_mbpp_asserts_with_per_assert_results(verifier):
    code = "def double(x):\n    return x * 2 if x < 3 else x * 3\n"
    tests = "assert double(1) == 2\nassert double(2) == 4\nassert double(3) == 6\nassert double(4) == 8\n"
    verdict = verifier.verify(record(block(code)), {"language": "python", "tests": tests, "entry_point": "double"})
    assert (verdict.status, verdict.code) == ("fail", "code.assertion_failed")
    assert verdict.reason == "`assert double(3) == 6` failed (tests line 3): left side 9, right side 6 (2 of 4 asserts failed)"
    assert verdict.details["asserts_passed"] == 2 and verdict.details["asserts_failed"] == 2
    assert [failure["line"] for failure in verdict.details["failed_asserts"]] == [3, 4]
    assert verdict.details["extracted_from"] == "the last of 1 python block"


def test_humaneval_row_completion_continues_the_prompt(verifier, corpora):
    import json

    row = json.loads((corpora / "code" / "HumanEval.jsonl").open().readline())
    body = row["canonical_solution"]
    canonical = from_humaneval({**row, "completion": body})
    rec = Record.from_dict(canonical, 1)
    verdict = verifier.verify(rec, rec.checks["code"])
    assert verdict.status == "pass", verdict.reason
    assert verdict.details["prompt_prefix_used"] is True
    broken = Record.from_dict(from_humaneval({**row, "completion": "    return not True\n"}), 2)
    verdict = verifier.verify(broken, broken.checks["code"])
    assert (verdict.status, verdict.code) == ("fail", "code.assertion_failed")


def test_raw_humaneval_check_is_called_when_the_tests_never_call_it(verifier):
    tests = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9\n"
    verdict = verifier.verify(record(block("def square(x):\n    return x * x\n")), {"tests": tests, "entry_point": "square"})
    assert verdict.status == "pass", verdict.reason
    assert verdict.reason == "all 2 asserts passed"


def test_call_based_cases(verifier):
    spec = {
        "entry_point": "divide",
        "tests": [
            {"args": [6, 3], "expected": 2.0},
            {"args": [1, 0], "expected": None},
            {"args": [7, 2], "expected": 3},
            {"kwargs": {"a": 1, "b": 4}, "expected": 0.25},
        ],
    }
    verdict = verifier.verify(record(block("def divide(a, b):\n    return a / b\n")), spec)
    assert (verdict.status, verdict.code) == ("fail", "code.runtime_error")
    assert verdict.reason.startswith("ZeroDivisionError: division by zero (solution.py line 2) calling divide for case 2")
    assert verdict.details["cases"] == ["ok", "raised", "wrong", "ok"]
    good = verifier.verify(record(block("def divide(a, b):\n    return a / b if b else None\n")), {**spec, "tests": [spec["tests"][0], spec["tests"][3]]})
    assert (good.status, good.reason) == ("pass", "all 2 call cases passed")


def test_call_cases_compare_types_strictly(verifier):
    spec = {"entry_point": "f", "tests": [{"args": [], "expected": [1, 2]}]}
    assert verifier.verify(record(block("def f():\n    return (1, 2)\n")), spec).status == "pass"
    verdict = verifier.verify(record(block("def f():\n    return [True, 2]\n")), spec)
    assert (verdict.status, verdict.code) == ("fail", "code.wrong_answer")
    assert verdict.reason == "case 1: f returned [True, 2] (item 0: expected a number, got bool)"
    missing = verifier.verify(record(block("def g():\n    return 1\n")), spec)
    assert (missing.code, missing.reason) == ("code.missing_entry_point", "the code defines no callable 'f'")


def test_stdin_stdout_cases(verifier):
    spec = {"tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 5\n", "stdout": "10"}, {"stdin": "x y\n", "stdout": "?\n"}]}
    program = "a, b = input().split()\nprint(int(a) + int(b))   \n"
    verdict = verifier.verify(record(block(program)), spec)
    assert (verdict.status, verdict.code) == ("fail", "code.runtime_error")
    assert verdict.reason.startswith("case 3 of 3: ValueError: invalid literal for int() with base 10: 'x' (solution.py line 2)")
    assert verdict.details["cases"] == ["pass", "pass", "runtime_error"]
    ok = verifier.verify(record(block(program)), {"tests": spec["tests"][:2]})
    assert (ok.status, ok.reason) == ("pass", "all 2 stdin/stdout cases matched")
    wrong = verifier.verify(record(block("print(3)\nprint()\nprint('extra')\n")), {"tests": spec["tests"][:1]})
    assert (wrong.code, wrong.reason) == ("code.wrong_output", "case 1 of 1: expected 1 lines, got 3 (first extra line '')")


def test_stdio_program_runs_as_main_and_may_exit(verifier):
    program = "import sys\n\ndef main():\n    print(sum(map(int, sys.stdin.read().split())))\n    exit(0)\n\nif __name__ == '__main__':\n    main()\n"
    verdict = verifier.verify(record(block(program)), {"tests": [{"stdin": "1 2 3\n", "stdout": "6\n"}]})
    assert verdict.status == "pass", verdict.reason


def test_script_mode_does_not_run_main_demo_code(verifier):
    code = "def add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n    print(add(int(input()), 1))\n"
    verdict = verifier.verify(record(block(code)), {"tests": "assert add(1, 2) == 3\n", "entry_point": "add"})
    assert verdict.status == "pass", verdict.reason


def test_syntax_errors_in_code_and_in_tests(verifier):
    verdict = verifier.verify(record(block("def f(:\n    return 1\n")), {"tests": "assert f() == 1\n", "entry_point": "f"})
    assert (verdict.status, verdict.code) == ("fail", "code.syntax_error")
    assert verdict.reason == "SyntaxError at line 1 of the code: invalid syntax: 'def f(:'"
    prose = verifier.verify(record("I cannot solve this."), {"tests": "assert f() == 1\n", "entry_point": "f"})
    assert prose.code == "code.syntax_error" and prose.reason.endswith("(the response has no fenced code block, so all of it was run)")
    bad_tests = verifier.verify(record(block("def f():\n    return 1\n")), {"tests": "assert f() ==\n", "entry_point": "f"})
    assert (bad_tests.status, bad_tests.code) == ("error", "code.bad_tests")


def test_spec_problems_are_errors_naming_the_field(verifier):
    verdict = verifier.verify(record(block("x = 1\n")), {"language": "javascript", "tests": "x"})
    assert (verdict.status, verdict.code) == ("error", "code.unsupported_language")
    verdict = verifier.verify(record(block("x = 1\n")), {"tests": "assert x == 1", "timeout": 3})
    assert (verdict.status, verdict.code) == ("error", "code.bad_spec")
    assert "timeout" in verdict.reason
    verdict = verifier.verify(record(block("def f():\n    return 1\n")), {"tests": "def check(c):\n    assert c() == 1\n"})
    assert (verdict.status, verdict.code) == ("error", "code.no_asserts")
    verdict = verifier.verify(record("```bash\necho hi\n```"), {"tests": "assert True"})
    assert (verdict.status, verdict.code, verdict.reason) == ("fail", "code.no_code", "no code to run: no python block (only bash blocks)")


def test_batch_keeps_order_across_threads(verifier):
    good, bad = block("def f():\n    return 1\n"), block("def f():\n    return 2\n")
    items = [(record(good if i % 3 else bad), {"tests": "assert f() == 1\n", "entry_point": "f"}) for i in range(12)]
    verdicts = verifier.verify_batch(items)
    assert [v.status for v in verdicts] == ["fail" if i % 3 == 0 else "pass" for i in range(12)]
    assert all(v.seconds > 0 for v in verdicts)


def test_container_killed_mid_job_is_an_error_and_the_pool_recovers():
    built = CodeVerifier({"pool_size": 1, "timeout_s": 20})
    try:
        built.pool.warm_up()
        worker = built.pool.live_workers()[0]
        killer = threading.Timer(1.0, lambda: built.backend.client.api.kill(worker.container_id))
        killer.start()
        started = time.monotonic()
        verdict = built.verify(record(block("import time\ntime.sleep(15)\ndef f():\n    return 1\n")), {"tests": "assert f() == 1\n", "entry_point": "f"})
        assert (verdict.status, verdict.code) == ("error", "code.sandbox_error")
        assert verdict.reason.startswith("the sandbox failed, so the code was not judged: ")
        assert time.monotonic() - started < 10
        after = built.verify(record(block("def f():\n    return 1\n")), {"tests": "assert f() == 1\n", "entry_point": "f"})
        assert after.status == "pass", after.reason
    finally:
        built.close()


def test_containers_are_recycled_after_n_jobs():
    built = CodeVerifier({"pool_size": 1, "jobs_per_container": 2})
    try:
        for _ in range(5):
            verdict = built.verify(record(block("def f():\n    return 1\n")), {"tests": "assert f() == 1\n", "entry_point": "f"})
            assert verdict.status == "pass"
        assert built.pool.recycled == 2
    finally:
        built.close()


def test_a_starved_but_correct_program_is_not_a_timeout():
    """A loaded machine must not turn a correct program into a timeout: with a twentieth of
    a CPU it needs far more wall-clock time than the wall limit (2 x 1 s + 1 s), but it is
    computing all along and stays within its CPU-time limit, so it passes."""
    built = CodeVerifier({"pool_size": 1, "timeout_s": 1, "cpus_per_container": 0.05})
    try:
        code = "def total(n):\n    x = 0\n    for i in range(n):\n        x += i\n    return x\n"
        verdict = built.verify(record(block(code)), {"tests": "assert total(5_000_000) == 12499997500000\n", "entry_point": "total"})
        assert verdict.status == "pass", verdict.reason
        assert verdict.details["wall_s"] > 3, "the run did not outlast the wall limit, so this tested nothing"
        assert verdict.details["cpu_s"] < 1
    finally:
        built.close()
