"""Backend `local-unsafe`: the same runner and harness as host processes, with NO isolation.

For trusted data only (your own reference solutions, a CI smoke test on a machine without
Docker). The program can read and write your files, use the network and outlive the run if it
tries hard; only rlimits, timeouts, output caps and a kill of the runner's descendants apply.
It is never the default and announces itself on stderr when built.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

from sandbox.channel import PipeChannel, SandboxError
from sandbox.pool import Backend, SandboxConfig, Worker, harness_source, runner_source
from sandbox.runner import descendants

WARNING = (
    "WARNING: code check backend 'local-unsafe' runs the responses' code directly on this host "
    "without any isolation. Use it only for data you trust."
)


class LocalWorker(Worker):
    def __init__(self, slot: int, process: subprocess.Popen[bytes], channel: PipeChannel, hello: dict[str, Any], workspace: str):
        super().__init__(slot, channel, hello)
        self.process = process
        self.workspace = workspace

    def describe_death(self) -> str:
        status = self.process.poll()
        return "" if status is None else f"the local runner exited with status {status}"

    def kill(self) -> None:
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.channel.close()
        self.process.wait()
        shutil.rmtree(self.workspace, ignore_errors=True)


class LocalBackend(Backend):
    name = "local-unsafe"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        print(WARNING, file=sys.stderr)

    def start_worker(self, slot: int) -> LocalWorker:
        workspace = tempfile.mkdtemp(prefix=f"sft-verify-local-{slot}-")
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", runner_source()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=workspace,
            start_new_session=True,
        )
        channel = PipeChannel(process)
        init = {"op": "init", "harness": harness_source(), "python": sys.executable, "workspace": workspace,
                "wipe": [workspace], "nproc_limit": None}
        try:
            channel.send(init)
            hello = channel.receive(timeout=30)
        except SandboxError:
            process.kill()
            process.wait()
            shutil.rmtree(workspace, ignore_errors=True)
            raise
        return LocalWorker(slot, process, channel, hello, workspace)
