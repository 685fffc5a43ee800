"""Pieces of the in-container runner, exercised on the host with harmless processes. No Docker."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sandbox.runner import RunClock, cpu_seconds, demand_seconds, descendants, parse_events, wipe


def spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_clock_stops_a_waiting_program_at_the_wall_limit():
    child = spawn("import time; time.sleep(30)")
    try:
        started = time.monotonic()
        clock = RunClock({"timeout_s": 10, "wall_timeout_s": 0.3, "max_wall_s": 5}, started, lambda: [child.pid], 0.02)
        assert clock.limit_hit(started + 0.1) is None
        time.sleep(0.4)
        assert clock.limit_hit(time.monotonic()) == "wall"
    finally:
        child.kill()
        child.wait()


def test_clock_gives_a_computing_program_time_until_starved():
    child = spawn("while True: pass")
    try:
        started = time.monotonic()
        clock = RunClock({"timeout_s": 100, "wall_timeout_s": 0.3, "max_wall_s": 0.8}, started, lambda: [child.pid], 0.02)
        time.sleep(0.4)
        assert demand_seconds(child.pid) > 0.2
        assert clock.limit_hit(time.monotonic()) is None  # wanted the CPU: not a wall timeout
        time.sleep(0.5)
        assert clock.limit_hit(time.monotonic()) == "starved"
    finally:
        child.kill()
        child.wait()


def test_clock_counts_the_cpu_of_every_process_of_the_job():
    child = spawn("import os, time\nif os.fork() == 0:\n    while True: pass\ntime.sleep(60)")  # only the child computes
    try:
        started = time.monotonic()
        clock = RunClock({"timeout_s": 0.4, "wall_timeout_s": 30, "max_wall_s": 60}, started, lambda: [child.pid, *descendants(child.pid)], 0.02)
        deadline = started + 10
        verdict = None
        while verdict is None and time.monotonic() < deadline:
            time.sleep(0.05)
            verdict = clock.limit_hit(time.monotonic())
        assert verdict == "cpu" and cpu_seconds(child.pid) < 0.2
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()


def test_descendants_and_gone_processes():
    child = spawn("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)")
    try:
        deadline = time.monotonic() + 10
        while len(descendants(child.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(descendants(child.pid)) == 1
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()
    assert cpu_seconds(child.pid) == 0.0 and demand_seconds(child.pid) == 0.0


def test_wipe_removes_locked_directories(tmp_path):
    locked = tmp_path / "job" / "locked"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    os.chmod(locked, 0)
    (tmp_path / "top.txt").write_text("x")
    assert wipe(str(tmp_path)) == []
    assert os.listdir(tmp_path) == []


def test_events_ignore_garbage_lines():
    data = b'{"e": "assert", "line": 3}\nnot json\n[1, 2]\n{"e": "done", "nonce": "n"}\n{"e": "trunc'
    assert parse_events(data) == [{"e": "assert", "line": 3}, {"e": "done", "nonce": "n"}]
