"""Classifying the runner's facts into verdicts, from hand-made facts. No Docker."""

from __future__ import annotations

import signal

from sandbox.jobs import Limits, build_job
from sandbox.outcome import first_line_difference, output_lines, verdict_for
from sandbox.spec import parse_spec

LIMITS = Limits(timeout_s=2, memory_mb=256, output_cap=1 << 20)


def script_case():
    spec = parse_spec({"tests": "assert f() == 1\n", "entry_point": "f"}, 60, 1024)
    return spec, build_job("def f():\n    return 1\n", spec, LIMITS)


def facts(**overrides):
    run = {"spawned": True, "exit_code": 0, "signal": None, "timed_out": False, "output_exceeded": None,
           "oom_killed": False, "stdout": "", "stderr_tail": "", "events": [], "wall_s": 0.01, "cpu_s": 0.01, "max_rss_kb": 1}
    run.update(overrides)
    return {"op": "result", "id": 1, "runs": [run], "healthy": True, "problems": []}


def done(job, **counts):
    return {"e": "done", "nonce": job.nonces[0], "status": 0, **counts}


def test_pass_needs_the_nonce():
    spec, job = script_case()
    verdict = verdict_for(spec, job, facts(events=[done(job, asserts_passed=1, asserts_failed=0)]), {})
    assert (verdict.status, verdict.code, verdict.reason) == ("pass", "code.pass", "all 1 asserts passed")
    forged = {"e": "done", "nonce": "0" * 32, "status": 0, "asserts_passed": 1, "asserts_failed": 0}
    verdict = verdict_for(spec, job, facts(events=[forged]), {})
    assert (verdict.status, verdict.code) == ("fail", "code.early_exit")
    assert verdict.reason.startswith("the program exited with status 0 before the tests finished")


def test_no_assert_ran_is_an_error_not_a_pass():
    spec, job = script_case()
    verdict = verdict_for(spec, job, facts(events=[done(job, asserts_passed=0, asserts_failed=0)]), {})
    assert (verdict.status, verdict.code) == ("error", "code.no_asserts")


def test_first_problem_wins_and_a_later_timeout_is_noted():
    spec, job = script_case()
    failure = {"e": "assert", "line": 1, "text": "assert f() == 1", "kind": "compare", "detail": "left side 2, right side 1"}
    verdict = verdict_for(spec, job, facts(events=[failure], timed_out="cpu", signal=9, exit_code=None), {})
    assert verdict.code == "code.assertion_failed"
    assert verdict.reason == (
        "`assert f() == 1` failed (tests line 1): left side 2, right side 1; "
        "then the program used more than 2 s of CPU time and was killed"
    )


def test_endings_are_told_apart():
    spec, job = script_case()
    cases = {
        "code.timeout": facts(timed_out="wall", signal=9, exit_code=None),
        "code.memory_limit": facts(oom_killed=True, signal=9, exit_code=None),
        "code.output_limit": facts(output_exceeded="stdout", signal=9, exit_code=None),
        "code.runtime_error": facts(signal=int(signal.SIGSEGV), exit_code=None),
    }
    for code, reply in cases.items():
        assert verdict_for(spec, job, reply, {}).code == code
    assert verdict_for(spec, job, cases["code.runtime_error"], {}).reason == "the program was killed by SIGSEGV"
    assert verdict_for(spec, job, cases["code.timeout"], {}).reason == (
        "no result within 5 s of wall-clock time, mostly waiting rather than computing (CPU limit 2 s); the program was killed"
    )
    starved = verdict_for(spec, job, facts(timed_out="starved", signal=9, exit_code=None), {})
    assert (starved.status, starved.code) == ("error", "code.sandbox_overloaded")
    assert "got under 2 s of it in 30 s" in starved.reason  # Limits.max_wall_s
    both = facts(oom_killed=True, timed_out="wall", signal=9, exit_code=None)
    assert verdict_for(spec, job, both, {}).code == "code.memory_limit"
    xcpu = facts(signal=int(signal.SIGXCPU), exit_code=None)
    assert verdict_for(spec, job, xcpu, {}).code == "code.timeout"
    assert verdict_for(spec, job, xcpu, {}).reason == "the program used more than 2 s of CPU time and was killed"
    xcpu_and_output = facts(output_exceeded="stdout", signal=int(signal.SIGXCPU), exit_code=None)
    assert verdict_for(spec, job, xcpu_and_output, {}).code == "code.output_limit"


def test_sandbox_failures_are_errors():
    spec, job = script_case()
    verdict = verdict_for(spec, job, facts(spawned=False, spawn_error="OSError: no python3"), {})
    assert (verdict.status, verdict.code) == ("error", "code.sandbox_error")
    empty = {"op": "result", "id": 1, "runs": [], "healthy": False, "problems": ["x"]}
    assert verdict_for(spec, job, empty, {}).status == "error"


def test_stdout_whitespace_rules():
    assert output_lines("1 2\r\n3  \t\n\n\n") == ["1 2", "3"]
    assert first_line_difference("3\n", "3") is None
    assert first_line_difference("3\n4\n", "3 \r\n4\n\n") is None
    assert first_line_difference(" 3\n", "3\n") == "line 1 differs: expected ' 3', got '3'"
    assert first_line_difference("1\n2\n", "1\n") == "expected 2 lines, got 1"
    assert first_line_difference("1\n", "1\n2\n") == "expected 1 lines, got 2 (first extra line '2')"


def test_stdio_verdict_names_the_first_failing_case():
    spec = parse_spec({"tests": [{"stdin": "1\n", "stdout": "1\n"}, {"stdin": "2\n", "stdout": "4\n"}, {"stdout": "x"}]}, 60, 1024)
    job = build_job("print(input())", spec, LIMITS)
    runs = [facts(stdout="1\n")["runs"][0], facts(stdout="2\n")["runs"][0], facts(timed_out="cpu", signal=9, exit_code=None)["runs"][0]]
    reply = {"op": "result", "id": 1, "runs": runs, "healthy": True, "problems": []}
    verdict = verdict_for(spec, job, reply, {})
    assert (verdict.status, verdict.code) == ("fail", "code.wrong_output")
    assert verdict.reason == "case 2 of 3: line 1 differs: expected '4', got '2' (2 of 3 cases failed)"
    assert verdict.details["cases"] == ["pass", "wrong_output", "timeout"]


def test_stdio_output_cap_grows_with_the_expected_output():
    spec = parse_spec({"tests": [{"stdout": "x" * 3_000_000}]}, 60, 1024)
    job = build_job("print('x' * 3_000_000)", spec, LIMITS)
    assert job.message["output_cap"] == 2 * 3_000_000 + 4096
    assert job.message["keep_stdout"] is True
    assert len(set(job.nonces)) == 1 and len(job.nonces[0]) == 32
