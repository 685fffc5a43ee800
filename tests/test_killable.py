"""The killable worker pool: results in order, hard timeouts, crashes, restarts, no orphans.

The job functions below are the pool's targets: workers import this module by name
(`test_killable:...`), so they must stay at module level.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verify.killable import KillablePool, resolve


def square(value: int) -> int:
    return value * value


def sleep_then_echo(payload: tuple[float, str]) -> str:
    time.sleep(payload[0])
    return payload[1]


def spin_forever(_: object) -> None:
    while True:  # a busy loop that never checks for a timeout, like sympy on a huge power
        pass


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def die_hard(_: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def pid_of_worker(_: object) -> int:
    return os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by its parent) counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return False


def _wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = [pid for pid in pids if _alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _alive(pid)]
    return alive


@pytest.fixture
def pool():
    with KillablePool("test_killable:square", workers=2, timeout_s=10) as created:
        yield created


def test_results_come_back_in_input_order(pool: KillablePool) -> None:
    outcomes = pool.run(list(range(20)))
    assert [outcome.status for outcome in outcomes] == ["ok"] * 20
    assert [outcome.value for outcome in outcomes] == [value * value for value in range(20)]


def test_jobs_run_concurrently_on_all_workers() -> None:
    with KillablePool("test_killable:sleep_then_echo", workers=2, timeout_s=10) as pool:
        pool.run([(0.0, "warm")] * 2)
        started = time.monotonic()
        outcomes = pool.run([(1.0, "a"), (1.0, "b")])
        elapsed = time.monotonic() - started
    assert [outcome.value for outcome in outcomes] == ["a", "b"]
    assert elapsed < 1.8, f"two 1 s jobs on two workers took {elapsed:.2f} s (one after the other: 2 s)"


def test_a_job_past_its_deadline_is_killed_and_the_worker_replaced() -> None:
    with KillablePool("test_killable:spin_forever", workers=1, timeout_s=0.5) as pool:
        before = pool.pids()
        started = time.monotonic()
        outcomes = pool.run([None])
        elapsed = time.monotonic() - started
        assert outcomes[0].status == "timeout"
        assert "no result after 0.5 s; the worker was killed" == outcomes[0].error
        assert elapsed < 5
        assert pool.restarts == 1
        assert pool.pids() != before
        assert _wait_gone(before) == []


def test_the_pool_keeps_working_after_a_timeout() -> None:
    with KillablePool("test_killable:sleep_then_echo", workers=1, timeout_s=0.5) as pool:
        outcomes = pool.run([(30, "never"), (0, "after")])
    assert [outcome.status for outcome in outcomes] == ["timeout", "ok"]
    assert outcomes[1].value == "after"


def test_an_exception_is_an_error_outcome_and_the_worker_survives() -> None:
    with KillablePool("test_killable:raise_value_error", workers=1, timeout_s=5) as pool:
        first_pids = pool.pids()
        outcomes = pool.run(["bad input"])
        assert outcomes[0].status == "error"
        assert outcomes[0].error == "ValueError: bad input"
        assert pool.restarts == 0
        assert pool.pids() == first_pids or not first_pids


def test_a_crashed_worker_gives_crashed_and_is_restarted() -> None:
    with KillablePool("test_killable:die_hard", workers=1, timeout_s=5) as pool:
        outcomes = pool.run([None, None])
        assert [outcome.status for outcome in outcomes] == ["crashed", "crashed"]
        assert "exit code -9" in outcomes[0].error
        assert pool.restarts == 2


def test_memory_limit_turns_a_huge_allocation_into_an_error() -> None:
    with KillablePool("test_killable:allocate", workers=1, timeout_s=10, memory_mb=512) as pool:
        outcomes = pool.run([2048, 10])
    assert outcomes[0].status in ("error", "crashed")
    assert outcomes[1].status == "ok" and outcomes[1].value == 10 * 1024 * 1024


def test_close_stops_every_worker() -> None:
    pool = KillablePool("test_killable:pid_of_worker", workers=2, timeout_s=5)
    pids = [outcome.value for outcome in pool.run([None] * 4)]
    assert set(pids) <= set(pool.pids())
    workers = pool.pids()
    pool.close()
    pool.close()  # idempotent
    assert _wait_gone(workers) == []
    with pytest.raises(RuntimeError, match="closed"):
        pool.run([None])


def test_no_orphans_when_the_owner_is_killed(tmp_path: Path) -> None:
    """SIGKILL the owning process while a worker is busy: every worker must disappear."""
    script = tmp_path / "owner.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parent.parent)!r}]
            from verify.killable import KillablePool
            if __name__ == "__main__":
                pool = KillablePool("test_killable:spin_forever", workers=2, timeout_s=600)
                pool._ensure(2)
                print(" ".join(map(str, pool.pids())), flush=True)
                pool.run([None, None])
            """
        )
    )
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pids = [int(pid) for pid in owner.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    time.sleep(0.3)  # the workers are now spinning on their jobs
    owner.kill()
    owner.wait()
    assert _wait_gone(pids) == [], "workers outlived their owner"


def test_bad_target_and_bad_timeout_are_rejected() -> None:
    with pytest.raises(ValueError, match="module:function"):
        resolve("no_colon_here")
    with pytest.raises(ValueError, match="timeout_s"):
        KillablePool("test_killable:square", timeout_s=0)
    with KillablePool("no_such_module_anywhere:run", workers=1) as pool:
        with pytest.raises(RuntimeError, match="ModuleNotFoundError"):
            pool.run([1])
