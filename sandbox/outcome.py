"""Classify the runner's facts into a verdict: pass, the kind of failure, or a sandbox error.

The rule is "the first thing that went wrong, in the order it happened": a failed assert
followed by an endless loop is `code.assertion_failed` (the timeout is noted), not a timeout.
A pass needs positive proof: the harness's `done` event carrying this run's nonce, at least
one assert (or every case) passed, and nothing else reported.

Verdict codes (status):
    code.pass (pass)
    code.assertion_failed, code.wrong_answer, code.wrong_output, code.runtime_error,
    code.syntax_error, code.timeout, code.memory_limit, code.output_limit, code.early_exit,
    code.tampered, code.missing_entry_point, code.no_code (fail)
    code.sandbox_error, code.sandbox_overloaded, code.bad_spec, code.bad_tests,
    code.no_asserts, code.unsupported_language (error)
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from sandbox.jobs import Job, Limits
from sandbox.spec import CodeSpec
from verify.records import Verdict, errored, failed, passed

CHECK = "code"
PROBLEM_EVENTS = ("syntax_error", "exception", "exit", "memory", "tamper", "assert", "case", "missing_entry_point")
SHORT = 160


@dataclass(frozen=True)
class Finding:
    """One run's classification: a verdict code, a reason phrase, whether it is an error."""

    code: str
    reason: str
    error: bool = False

    @property
    def ok(self) -> bool:
        return self.code == "code.pass"


def clip(text: str, limit: int = SHORT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cut(text: str, limit: int) -> str:
    """Shorten without touching whitespace (it matters when outputs differ)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def done_event(run: dict[str, Any], nonce: str) -> dict[str, Any] | None:
    """The harness's final event, only if it carries this run's nonce."""
    for event in run.get("events", []):
        if event.get("e") == "done" and event.get("nonce") == nonce:
            return event
    return None


def where_phrase(event: dict[str, Any], entry_point: str | None) -> str:
    where = event.get("where")
    if where == "solution":
        return "while loading the solution"
    if where == "case":
        return f"calling {entry_point} for case {event.get('case', 0) + 1}"
    return "while running the tests"


def location(event: dict[str, Any]) -> str:
    if event.get("line") is None:
        return ""
    return f" ({event.get('file', 'solution.py')} line {event['line']})"


def first_problem(run: dict[str, Any], spec: CodeSpec) -> Finding | None:
    """The earliest problem the harness reported, mapped to a finding."""
    for event in run.get("events", []):
        kind = event.get("e")
        if kind not in PROBLEM_EVENTS or (kind == "case" and event.get("ok")):
            continue
        return event_finding(event, spec)
    return None


def event_finding(event: dict[str, Any], spec: CodeSpec) -> Finding:
    kind = event["e"]
    if kind == "syntax_error":
        text = f": {clip(event['text'], 80)!r}" if event.get("text") else ""
        where = f"line {event['line']}" if event.get("line") else "the source"
        if event.get("where") == "tests":
            return Finding("code.bad_tests", f"the tests do not compile: SyntaxError at {where}: {event.get('msg')}{text}", error=True)
        return Finding("code.syntax_error", f"SyntaxError at {where} of the code: {event.get('msg')}{text}")
    if kind == "exception":
        message = f": {clip(event['msg'])}" if event.get("msg") else ""
        return Finding("code.runtime_error", f"{event['type']}{message}{location(event)} {where_phrase(event, spec.entry_point)}")
    if kind == "exit":
        return Finding("code.early_exit", f"the program called sys.exit({event.get('code')}) {where_phrase(event, spec.entry_point)}; the tests did not finish")
    if kind == "memory":
        return Finding("code.memory_limit", f"MemoryError {where_phrase(event, spec.entry_point)}: the program exceeded its memory limit")
    if kind == "tamper":
        return Finding("code.tampered", f"the program {event.get('what', 'tampered with the test harness')}; a pass would not be trustworthy")
    if kind == "assert":
        text = clip(event.get("text", "assert"), 120)
        if event.get("kind") == "raised":
            return Finding("code.runtime_error", f"`{text}` (tests line {event.get('line')}) {event.get('detail')}")
        message = f"; message: {clip(event['msg'], 80)}" if event.get("msg") else ""
        return Finding("code.assertion_failed", f"`{text}` failed (tests line {event.get('line')}): {event.get('detail')}{message}")
    if kind == "case":
        why = f" ({event['why']})" if event.get("why") else ""
        return Finding("code.wrong_answer", f"case {event['case'] + 1}: {spec.entry_point} returned {event.get('got')}{why}")
    return Finding("code.missing_entry_point", f"the code defines no callable {event.get('name')!r}")


def cpu_timeout(timeout_s: float) -> Finding:
    """The runner's CPU clock or the kernel's RLIMIT_CPU (SIGXCPU) ended the run."""
    return Finding("code.timeout", f"the program used more than {timeout_s:g} s of CPU time and was killed")


def ending_finding(run: dict[str, Any], limits: Limits) -> Finding | None:
    """How the process ended, when that alone decides (timeout, limits, signals)."""
    timeout_s = limits.timeout_s
    if not run.get("spawned", True):
        return Finding("code.sandbox_error", f"the sandbox could not start the interpreter: {run.get('spawn_error')}", error=True)
    if run.get("oom_killed"):  # before the timeout: a process lost to OOM may also hang the rest
        return Finding("code.memory_limit", f"the out-of-memory killer killed the program or one of its processes ({limits.memory_mb} MiB limit)")
    if run.get("timed_out") == "cpu":
        return cpu_timeout(timeout_s)
    if run.get("timed_out") == "starved":
        return Finding(
            "code.sandbox_overloaded",
            f"the machine was too busy to decide: the program wanted the CPU but got under {timeout_s:g} s of it "
            f"in {limits.max_wall_s:g} s; rerun with a smaller pool_size",
            error=True,
        )
    if run.get("timed_out"):
        return Finding("code.timeout", f"no result within {limits.wall_timeout_s:g} s of wall-clock time, mostly waiting rather than computing (CPU limit {timeout_s:g} s); the program was killed")
    if run.get("output_exceeded"):
        return Finding("code.output_limit", f"the program wrote more than {limits.output_cap // 1024} KiB to {run['output_exceeded']}; it was killed")
    number = run.get("signal")
    if number == signal.SIGXCPU:
        return cpu_timeout(timeout_s)
    if number:
        return Finding("code.runtime_error", f"the program was killed by {signal_name(number)}")
    return None


def with_stderr(finding: Finding, run: dict[str, Any]) -> Finding:
    tail = (run.get("stderr_tail") or "").strip().splitlines()
    if finding.code == "code.runtime_error" and tail:
        return Finding(finding.code, f"{finding.reason}; stderr ends: {clip(tail[-1], 120)}", finding.error)
    return finding


def classify_tests_run(run: dict[str, Any], nonce: str, spec: CodeSpec, job: Job) -> Finding:
    """Assert scripts and call cases: one run of the harness."""
    problem = first_problem(run, spec)
    ending = ending_finding(run, job.limits)
    done = done_event(run, nonce)
    if problem is not None:
        reason = problem.reason + assert_summary(done)
        if ending is not None and ending.code in ("code.timeout", "code.output_limit", "code.memory_limit"):
            reason = f"{reason}; then {ending.reason}"
        return Finding(problem.code, reason, problem.error)
    if ending is not None:
        return ending
    if done is None:
        status = run.get("exit_code")
        if status == 0:
            return Finding("code.early_exit", "the program exited with status 0 before the tests finished (no completion proof; e.g. os._exit(0))")
        return Finding("code.runtime_error", f"the program exited with status {status} before the tests finished")
    if spec.mode == "call":
        count = len(done.get("cases", []))
        if count != len(spec.calls):
            return Finding("code.sandbox_error", f"the harness reported {count} of {len(spec.calls)} cases", error=True)
        return Finding("code.pass", f"all {count} call cases passed")
    passed_count = done.get("asserts_passed", 0)
    if passed_count == 0 and done.get("asserts_failed", 0) == 0:
        return Finding(
            "code.no_asserts",
            "the tests ran no assert statement, so a pass cannot be proven; check checks.code.tests and entry_point",
            error=True,
        )
    return Finding("code.pass", f"all {passed_count} asserts passed")


def assert_summary(done: dict[str, Any] | None) -> str:
    if not done or "asserts_failed" not in done:
        return ""
    failed_count, total = done["asserts_failed"], done["asserts_failed"] + done.get("asserts_passed", 0)
    return f" ({failed_count} of {total} asserts failed)" if total > 1 and failed_count else ""


def first_line_difference(expected: str, got: str) -> str | None:
    """Compare outputs line by line after the whitespace rules; describe the first difference."""
    want, have = output_lines(expected), output_lines(got)
    for number, (line_want, line_have) in enumerate(zip(want, have, strict=False), start=1):
        if line_want != line_have:
            return f"line {number} differs: expected {cut(line_want, 60)!r}, got {cut(line_have, 60)!r}"
    if len(want) != len(have):
        extra = have[len(want)] if len(have) > len(want) else None
        more = f" (first extra line {cut(extra, 60)!r})" if extra is not None else ""
        return f"expected {len(want)} lines, got {len(have)}{more}"
    return None


def output_lines(text: str) -> list[str]:
    """The whitespace rules: \\r\\n and \\r are newlines, trailing spaces and tabs on a line
    and trailing blank lines are ignored; leading whitespace and inner spaces count."""
    lines = [line.rstrip(" \t") for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def classify_stdio_run(run: dict[str, Any], expected: str, spec: CodeSpec, job: Job) -> Finding:
    problem = first_problem(run, spec)
    ending = ending_finding(run, job.limits)
    if problem is not None and problem.code in ("code.syntax_error", "code.memory_limit", "code.runtime_error"):
        return with_stderr(problem, run)
    if ending is not None:
        return ending
    if run.get("exit_code"):
        return with_stderr(Finding("code.runtime_error", f"the program exited with status {run['exit_code']}"), run)
    difference = first_line_difference(expected, run.get("stdout", ""))
    if difference:
        return Finding("code.wrong_output", difference)
    return Finding("code.pass", "output matches")


def verdict_for(spec: CodeSpec, job: Job, reply: dict[str, Any], details: dict[str, Any]) -> Verdict:
    runs = reply.get("runs", [])
    details = dict(details, **resource_details(runs), job_cpu_s=reply.get("job_cpu_s", 0.0))
    if spec.mode != "program":
        if not runs:
            return errored(CHECK, "the sandbox returned no result for the run", "code.sandbox_error", **details)
        run = runs[0]
        finding = classify_tests_run(run, job.nonces[0], spec, job)
        details.update(tests_details(run, job.nonces[0], spec))
        return to_verdict(with_stderr(finding, run), details)
    findings = [classify_stdio_run(run, case.stdout, spec, job) for run, case in zip(runs, spec.stdio, strict=False)]
    statuses = [finding.code.removeprefix("code.") for finding in findings]
    statuses += ["not_run"] * (len(spec.stdio) - len(findings))
    details["cases"] = statuses
    failures = [(index, finding) for index, finding in enumerate(findings) if not finding.ok]
    if not failures and len(findings) == len(spec.stdio):
        return to_verdict(Finding("code.pass", f"all {len(findings)} stdin/stdout cases matched"), details)
    if not failures:
        return errored(CHECK, "the sandbox ran fewer cases than asked", "code.sandbox_error", **details)
    index, first = failures[0]
    total = len(spec.stdio)
    summary = f" ({len(failures)} of {total} cases failed)" if total > 1 else ""
    if first.code == "code.syntax_error":
        return to_verdict(first, details)
    return to_verdict(Finding(first.code, f"case {index + 1} of {total}: {first.reason}{summary}", first.error), details)


def to_verdict(finding: Finding, details: dict[str, Any]) -> Verdict:
    if finding.ok:
        return passed(CHECK, finding.reason, "code.pass", **details)
    if finding.error:
        return errored(CHECK, finding.reason, finding.code, **details)
    return failed(CHECK, finding.reason, finding.code, **details)


def resource_details(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s": round(sum(run.get("wall_s", 0.0) for run in runs), 4),
        "cpu_s": round(sum(run.get("cpu_s", 0.0) for run in runs), 4),
        "max_rss_kb": max((run.get("max_rss_kb", 0) for run in runs), default=0),
    }


def tests_details(run: dict[str, Any], nonce: str, spec: CodeSpec) -> dict[str, Any]:
    done = done_event(run, nonce) or {}
    details: dict[str, Any] = {"exit_code": run.get("exit_code"), "proof": bool(done)}
    if spec.mode == "call":
        cases = {event["case"]: ("ok" if event.get("ok") else "wrong") for event in run.get("events", []) if event.get("e") == "case"}
        cases.update({event["case"]: "raised" for event in run.get("events", []) if event.get("e") == "exception" and "case" in event})
        details["cases"] = [cases.get(index, "not_run") for index in range(len(spec.calls))]
        return details
    failures = [
        {key: event.get(key) for key in ("line", "text", "kind", "detail")}
        for event in run.get("events", [])
        if event.get("e") == "assert"
    ]
    if done:
        details["asserts_passed"] = done.get("asserts_passed", 0)
        details["asserts_failed"] = done.get("asserts_failed", 0)
    details["failed_asserts"] = failures[:5]
    return details
