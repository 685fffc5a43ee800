"""Turn (code, spec) into a runner job: one run for assert scripts and call cases, one per stdin case.

Each run gets its own random nonce; only a harness that finished every test writes it back,
and the host (not the runner) compares it (see sandbox/outcome.py).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any

from sandbox.spec import CodeSpec

_job_ids = itertools.count(1)
REPLY_MARGIN_S = 15.0  # interpreter start, clean-up and transport on a loaded machine
WALL_FACTOR = 2.0
WALL_SLACK_S = 1.0
STARVED_FACTOR = 10.0
STARVED_SLACK_S = 10.0


@dataclass(frozen=True)
class Limits:
    """Per run: `timeout_s` of CPU time, and a wall-clock limit derived from it.

    The CPU-time limit decides verdicts, so a loaded machine does not turn slow-but-correct
    programs into timeouts; the wall-clock limit (2 x timeout_s + 1 s) stops programs that
    sleep or block without using CPU. A program still wanting the CPU at that point (starved
    by other load) gets until `max_wall_s` (10 x timeout_s + 10 s), then the run is reported
    as starved, an `error` (see sandbox/runner.py RunClock).
    """

    timeout_s: float
    memory_mb: int
    output_cap: int

    @property
    def wall_timeout_s(self) -> float:
        return WALL_FACTOR * self.timeout_s + WALL_SLACK_S

    @property
    def max_wall_s(self) -> float:
        return STARVED_FACTOR * self.timeout_s + STARVED_SLACK_S


@dataclass(frozen=True)
class Job:
    message: dict[str, Any]
    limits: Limits

    @property
    def nonces(self) -> list[str]:
        return [run["nonce"] for run in self.message["runs"]]

    @property
    def reply_timeout(self) -> float:
        runs = len(self.message["runs"])
        return self.limits.max_wall_s * runs + REPLY_MARGIN_S + runs


def build_job(code: str, spec: CodeSpec, limits: Limits) -> Job:
    if spec.mode == "program":
        runs = [run({"mode": "program", "code": code}, case.stdin) for case in spec.stdio]
        longest = max(len(case.stdout.encode("utf-8")) for case in spec.stdio)
        limits = Limits(limits.timeout_s, limits.memory_mb, max(limits.output_cap, 2 * longest + 4096))
    elif spec.mode == "call":
        cases = [{"args": case.args, "kwargs": case.kwargs, "expected": case.expected} for case in spec.calls]
        runs = [run({"mode": "call", "code": code, "entry_point": spec.entry_point, "cases": cases})]
    else:
        runs = [run({"mode": "script", "code": code, "tests": spec.tests, "entry_point": spec.entry_point})]
    message = {
        "op": "job",
        "id": next(_job_ids),
        "runs": runs,
        "timeout_s": limits.timeout_s,
        "wall_timeout_s": limits.wall_timeout_s,
        "max_wall_s": limits.max_wall_s,
        "memory_mb": limits.memory_mb,
        "output_cap": limits.output_cap,
        "keep_stdout": spec.mode == "program",
        "stop_after_timeout": True,
    }
    return Job(message, limits)


def run(payload: dict[str, Any], stdin: str = "") -> dict[str, Any]:
    return {"payload": payload, "stdin": stdin, "nonce": secrets.token_hex(16)}
