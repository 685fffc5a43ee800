"""A pool of warm workers (runner processes in containers, or local ones) shared by threads.

A worker takes one job at a time. The pool hands out idle workers, starts new ones lazily
up to `size`, and retires a worker (its container is killed and removed, a fresh one takes
its slot on demand) after any sandbox failure, timeout, crash, out-of-memory kill or
unhealthy report, and after `jobs_per_worker` jobs, so no job inherits a degraded worker.
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.channel import LineChannel, SandboxError

HERE = Path(__file__).resolve().parent


@functools.cache
def runner_source() -> str:
    return (HERE / "runner.py").read_text(encoding="utf-8")


@functools.cache
def harness_source() -> str:
    return (HERE / "harness.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class SandboxConfig:
    """How the workers are built; per-job limits travel with each job."""

    image: str
    size: int
    max_memory_mb: int
    jobs_per_worker: int
    tmp_mb: int = 64
    shm_mb: int = 16
    pids_limit: int = 64
    cpus: float = 1.0
    nproc_limit: int = 48


class Worker(ABC):
    """One runner, ready for jobs."""

    def __init__(self, slot: int, channel: LineChannel, hello: dict[str, Any]) -> None:
        self.slot = slot
        self.channel = channel
        self.hello = hello
        self.jobs_done = 0

    def run(self, job: dict[str, Any], reply_timeout: float) -> dict[str, Any]:
        """Send a job and wait for its result; SandboxError when the worker failed."""
        self.channel.send(job)
        reply = self.channel.receive(reply_timeout)
        self.jobs_done += 1
        if reply.get("op") != "result" or reply.get("id") != job["id"]:
            raise SandboxError(f"the runner answered {reply.get('op')!r} for job {reply.get('id')!r}, expected job {job['id']!r}")
        return reply

    @abstractmethod
    def describe_death(self) -> str:
        """Why the worker stopped answering, as far as the engine can tell."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the runner and everything it started; remove its container."""


class Backend(ABC):
    name: str

    @abstractmethod
    def start_worker(self, slot: int) -> Worker: ...

    def close(self) -> None:
        """Release what the backend holds beyond its workers."""


def needs_recycling(reply: dict[str, Any]) -> bool:
    """After a timeout, crash, OOM kill or an unhealthy report, the worker is replaced."""
    if not reply.get("healthy", False):
        return True
    for run in reply.get("runs", []):
        if run.get("timed_out") or run.get("signal") or run.get("oom_killed") or not run.get("spawned", True):
            return True
    return False


class Pool:
    def __init__(self, backend: Backend, config: SandboxConfig) -> None:
        self.backend = backend
        self.config = config
        self._changed = threading.Condition()
        self._idle: list[Worker] = []
        self._free_slots = list(range(config.size))
        self._workers: dict[int, Worker] = {}
        self._closed = False
        self.recycled = 0

    def run(self, job: dict[str, Any], reply_timeout: float) -> dict[str, Any]:
        """Run one job on some worker; SandboxError when the sandbox failed."""
        worker = self._acquire()
        try:
            reply = worker.run(job, reply_timeout)
        except SandboxError as exc:
            death = worker.describe_death()
            self._retire(worker)
            raise SandboxError(f"{exc}{'; ' + death if death else ''}") from exc
        except BaseException:
            self._retire(worker)
            raise
        if needs_recycling(reply) or worker.jobs_done >= self.config.jobs_per_worker:
            self._retire(worker)
        else:
            self._release(worker)
        return reply

    def warm_up(self) -> None:
        """Start every worker now (otherwise they start on first use)."""
        workers = [self._acquire() for _ in range(self.config.size)]
        for worker in workers:
            self._release(worker)

    def live_workers(self) -> list[Worker]:
        with self._changed:
            return list(self._workers.values())

    def _acquire(self) -> Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._free_slots:
                    slot = self._free_slots.pop(0)
                    break
                self._changed.wait()
        try:
            worker = self.backend.start_worker(slot)
        except BaseException:
            with self._changed:
                self._free_slots.append(slot)
                self._changed.notify()
            raise
        with self._changed:
            self._workers[slot] = worker
        return worker

    def _release(self, worker: Worker) -> None:
        with self._changed:
            self._idle.append(worker)
            self._changed.notify()

    def _retire(self, worker: Worker) -> None:
        try:
            worker.kill()
        finally:
            with self._changed:
                self._workers.pop(worker.slot, None)
                self._free_slots.append(worker.slot)
                self.recycled += 1
                self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
            self._idle.clear()
            self._changed.notify_all()
        for worker in workers:
            worker.kill()
        self.backend.close()
