"""A pool of worker processes that can be killed from outside: for work that may never return.

Why not `multiprocessing.Pool` or `concurrent.futures`: neither can stop one runaway task. A
sympy call on `9^{9^{9^9}}` holds the GIL inside one C-level big-integer operation, so no
in-process timeout (threads, `signal.alarm` off the main thread) can interrupt it. Here every
job runs in a worker process with a hard deadline; a worker past its deadline is sent SIGKILL,
its job gets a `timeout` outcome, and a fresh worker takes its place. A worker that dies on its
own (segfault, out of memory) gives a `crashed` outcome and is replaced the same way.

Workers are forked from a `forkserver` whose preloaded modules (the target's module) are already
imported, so a restart costs milliseconds, not a fresh interpreter, and forking never copies the
caller's threads or locks. No process outlives its owner:
- `close()` stops every worker (a polite stop message, then SIGKILL);
- a worker blocked waiting for a job exits when its pipe from the parent closes;
- a busy worker is killed by the kernel when its parent (the forkserver) dies
  (`prctl(PR_SET_PDEATHSIG, SIGKILL)`), and the forkserver exits when the owner process dies,
  even when the owner is killed with SIGKILL.

The target is a "module:function" string taking one picklable payload and returning a picklable
result; an exception it raises becomes an `error` outcome with its message. A job's deadline
starts when it is handed to a worker that has finished starting up. As with every forkserver or
spawn pool, a script that builds a pool must guard its top level with
`if __name__ == "__main__":` (workers import the main module).
"""

from __future__ import annotations

import atexit
import ctypes
import importlib
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Literal

OutcomeStatus = Literal["ok", "error", "timeout", "crashed"]
_PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one job: its value (`ok`), or why there is none."""

    status: OutcomeStatus
    value: Any = None
    error: str = ""
    seconds: float = 0.0


def resolve(target: str) -> Callable[[Any], Any]:
    """The function named by "module:function"."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"target must look like 'module:function', got {target!r}")
    return getattr(importlib.import_module(module_name), attribute)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(0)


def _let_forkserver_die_with_owner() -> None:
    """Close this worker's copy of the forkserver's "owner alive" pipe.

    multiprocessing hands that pipe's write end to every forked child, so the forkserver only
    exits when the owner *and* every worker have closed it; a busy worker would then keep the
    forkserver (its parent) alive forever and PDEATHSIG would never fire. Closing the copy here
    leaves the owner as the only holder: owner gone -> forkserver exits -> workers are killed.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _limit_memory(memory_mb: int | None) -> None:
    if not memory_mb:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def _serve(connection: Connection, target: str, memory_mb: int | None) -> None:
    """Worker main loop: receive (job id, payload), send (job id, status, value or message)."""
    die_with_parent()
    _let_forkserver_die_with_owner()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's to handle
    _limit_memory(memory_mb)
    try:
        function = resolve(target)
    except BaseException as exc:
        connection.send(("failed", f"{type(exc).__name__}: {exc}"))
        os._exit(1)
    connection.send(("ready", os.getpid()))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            os._exit(0)
        if message is None:
            os._exit(0)
        job_id, payload = message
        try:
            result = function(payload)
        except Exception as exc:  # the job failed, the worker is fine
            connection.send((job_id, "error", f"{type(exc).__name__}: {exc}"))
        else:
            connection.send((job_id, "ok", result))


class _Worker:
    def __init__(self, context: Any, target: str, memory_mb: int | None) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child_end, target, memory_mb), daemon=True)
        self.process.start()
        child_end.close()
        self.connection: Connection = parent_end
        self.job: int | None = None
        self.started = 0.0
        self.deadline = 0.0
        self._wait_ready(target)

    def _wait_ready(self, target: str) -> None:
        """Block until the worker has imported its target, so start-up never eats a job's time."""
        problem = f"did not start within {STARTUP_TIMEOUT_S:g} s"
        try:
            if self.connection.poll(STARTUP_TIMEOUT_S):
                status, detail = self.connection.recv()
                if status == "ready":
                    return
                problem = str(detail)
        except (EOFError, OSError):
            problem = f"exited during start-up (exit code {self.process.exitcode})"
        self.kill()
        raise RuntimeError(f"a worker for {target!r} {problem}")

    def assign(self, job: int, payload: Any, timeout_s: float) -> None:
        self.connection.send((job, payload))
        self.job = job
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.connection.close()

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(0.5)
        self.kill()


class KillablePool:
    """N worker processes running `target(payload)` with a hard per-job timeout.

    `run(payloads)` returns one `Outcome` per payload, in order, dispatching them concurrently
    over the workers; workers are started on first use and reused across calls.
    """

    def __init__(
        self,
        target: str,
        workers: int | None = None,
        timeout_s: float = 5.0,
        memory_mb: int | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.target = target
        self.size = max(1, workers or os.cpu_count() or 1)
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.restarts = 0
        self._context = multiprocessing.get_context("forkserver")
        module = target.partition(":")[0]
        self._context.set_forkserver_preload([module, *preload])
        self._workers: list[_Worker] = []
        self._closed = False
        atexit.register(self.close)

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        return [worker.process.pid for worker in self._workers if worker.process.pid is not None]

    def _start(self) -> _Worker:
        return _Worker(self._context, self.target, self.memory_mb)

    def _ensure(self, count: int) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")
        while len(self._workers) < min(count, self.size):
            self._workers.append(self._start())

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._workers[self._workers.index(worker)] = self._start()
        self.restarts += 1

    def run(
        self,
        payloads: Sequence[Any],
        on_done: Callable[[int, Outcome], None] | None = None,
        timeout_s: float | None = None,
    ) -> list[Outcome]:
        """Run every payload; `on_done(index, outcome)` is called as each one finishes."""
        timeout = timeout_s or self.timeout_s
        outcomes: list[Outcome | None] = [None] * len(payloads)
        pending = deque(range(len(payloads)))
        if not payloads:
            return []
        self._ensure(len(payloads))

        def finish(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome
            if on_done is not None:
                on_done(index, outcome)

        while pending or any(worker.job is not None for worker in self._workers):
            for worker in list(self._workers):
                if worker.job is None and pending:
                    index = pending.popleft()
                    try:
                        worker.assign(index, payloads[index], timeout)
                    except (OSError, ValueError):  # the idle worker had died: replace it, retry the job
                        pending.appendleft(index)
                        self._replace(worker)
            busy = [worker for worker in self._workers if worker.job is not None]
            if not busy:
                continue
            wait_for = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
            handles: dict[Any, _Worker] = {}
            for worker in busy:
                handles[worker.connection] = worker
                handles[worker.process.sentinel] = worker
            ready = wait(list(handles), timeout=wait_for)
            done: set[int] = set()
            for handle in ready:
                worker = handles[handle]
                if id(worker) in done or worker.job is None:
                    continue
                done.add(id(worker))
                self._collect(worker, finish)
            now = time.monotonic()
            for worker in busy:
                if worker.job is not None and id(worker) not in done and now >= worker.deadline:
                    index, seconds = worker.job, now - worker.started
                    self._replace(worker)
                    finish(
                        index,
                        Outcome(
                            "timeout", error=f"no result after {timeout:g} s; the worker was killed", seconds=seconds
                        ),
                    )
        return [outcome for outcome in outcomes if outcome is not None]

    def _collect(self, worker: _Worker, finish: Callable[[int, Outcome], None]) -> None:
        """Read one finished job from a worker, or record that the worker died under it."""
        index = worker.job
        assert index is not None
        seconds = time.monotonic() - worker.started
        try:
            if worker.connection.poll():
                job_id, status, value = worker.connection.recv()
                worker.job = None
                if status == "ok":
                    finish(index, Outcome("ok", value=value, seconds=seconds))
                else:
                    finish(index, Outcome("error", error=str(value), seconds=seconds))
                return
        except (EOFError, OSError):
            pass
        worker.process.join(1)
        code = worker.process.exitcode
        self._replace(worker)
        finish(index, Outcome("crashed", error=f"the worker process died (exit code {code})", seconds=seconds))

    def close(self) -> None:
        """Stop every worker. Safe to call twice; the pool cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.stop()
        self._workers = []
        atexit.unregister(self.close)

    def __enter__(self) -> KillablePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
