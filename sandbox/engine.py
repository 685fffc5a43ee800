"""The Docker side: connecting, the hardened container settings, workers, reaping stale ones.

Every container we make carries the label `org.sft-verify.sandbox` and an owner label
(`host:pid:process-start-time`). Containers are created with `AutoRemove` and an attached
stdin that closes when the owning process's connection drops (`StdinOnce`), so a SIGKILLed
run's runners read EOF, exit, and are removed by the engine; `reap_stale` removes any that
still remain from dead owners on this host when a pool starts (and `verify sandbox clean`).
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from sandbox.channel import DockerChannel, SandboxError
from sandbox.pool import Backend, SandboxConfig, Worker, harness_source, runner_source

DEFAULT_IMAGE = "sft-verify/sandbox:latest"
SANDBOX_LABEL = "org.sft-verify.sandbox"
OWNER_LABEL = "org.sft-verify.owner"
UID_BASE = 61000  # one uid per pool slot, so per-uid limits (RLIMIT_NPROC) never span containers
RUNNER_OVERHEAD_MB = 64
CONTAINER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
FIX_ENGINE = "start it with `sudo scripts/setup_docker.sh` (or your usual Docker set-up), then run `verify sandbox doctor`"


class EngineUnavailable(RuntimeError):
    """No usable engine or image; the message says how to fix it."""


def connect(timeout: float = 60) -> Any:
    """A docker SDK client that has answered a ping; EngineUnavailable otherwise."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(version="auto", timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(f"the Docker engine is not reachable ({short_error(exc)}): {FIX_ENGINE}") from exc
    return client


def require_image(client: Any, tag: str) -> dict[str, Any]:
    """The image's inspect data; EngineUnavailable naming the build commands when missing."""
    from docker.errors import ImageNotFound

    try:
        return client.api.inspect_image(tag)
    except ImageNotFound as exc:
        raise EngineUnavailable(
            f"the sandbox image {tag!r} is missing: build it with `verify sandbox build` (pulls a python slim base) "
            f"or offline with `verify sandbox build --debootstrap` (or `scripts/setup_docker.sh`)"
        ) from exc


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# ---- owners and stale containers -----------------------------------------------------------


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), to tell reused pids apart."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[19]


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{process_start_time(os.getpid()) or '?'}"


def owner_is_gone(owner: str) -> bool:
    """True only for an owner on this host whose process no longer exists (or was replaced)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    current = process_start_time(int(pid_text))
    return current is None or (start != "?" and current != start)


def labelled_containers(client: Any) -> list[dict[str, Any]]:
    return client.api.containers(all=True, filters={"label": SANDBOX_LABEL})


def reap_stale(client: Any, everything: bool = False) -> int:
    """Remove labelled containers whose owner on this host is gone (all of ours with `everything`)."""
    from docker.errors import APIError

    removed = 0
    for container in labelled_containers(client):
        owner = (container.get("Labels") or {}).get(OWNER_LABEL, "")
        if everything or owner_is_gone(owner):
            try:
                client.api.remove_container(container["Id"], force=True)
                removed += 1
            except APIError:
                pass  # already being removed by the engine
    return removed


# ---- the hardened container ----------------------------------------------------------------


def container_memory_mb(config: SandboxConfig) -> int:
    """The container's memory (and memory+swap) limit: the largest job, both tmpfs, the runner.

    tmpfs pages are charged to the container, so a full /tmp must not push the runner into
    the out-of-memory killer."""
    return config.max_memory_mb + config.tmp_mb + config.shm_mb + RUNNER_OVERHEAD_MB


def hardened_host_config(client: Any, config: SandboxConfig) -> Any:
    """--network none, read-only root, capped tmpfs, no capabilities, limits, no logs."""
    from docker.types import LogConfig

    memory = f"{container_memory_mb(config)}m"
    return client.api.create_host_config(
        auto_remove=True,
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={config.tmp_mb}m,mode=1777"},
        shm_size=f"{config.shm_mb}m",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=config.pids_limit,
        mem_limit=memory,
        memswap_limit=memory,
        nano_cpus=int(config.cpus * 1e9),
        log_config=LogConfig(type="none"),
        ipc_mode="private",
    )


def runner_command() -> list[str]:
    return ["python3", "-I", "-c", runner_source()]


def runner_init(config: SandboxConfig) -> dict[str, Any]:
    """The first message a container's runner reads: the harness and where to work."""
    return {
        "op": "init",
        "harness": harness_source(),
        "python": "python3",
        "workspace": "/tmp",
        "wipe": ["/tmp", "/dev/shm"],
        "nproc_limit": config.nproc_limit,
    }


class DockerWorker(Worker):
    def __init__(self, backend: DockerBackend, slot: int, container_id: str, channel: DockerChannel, hello: dict[str, Any]):
        super().__init__(slot, channel, hello)
        self.backend = backend
        self.container_id = container_id

    def describe_death(self) -> str:
        from docker.errors import DockerException

        try:
            state = self.backend.client.api.inspect_container(self.container_id)["State"]
        except DockerException:
            return "the container is gone"
        if state.get("OOMKilled"):
            return "the container was killed for exceeding its memory limit"
        if not state.get("Running"):
            return f"the container exited with status {state.get('ExitCode')}"
        return ""

    def kill(self) -> None:
        self.channel.close()
        self.backend.remove(self.container_id)


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, config: SandboxConfig, client: Any | None = None) -> None:
        self.config = config
        self.client = client or connect()
        require_image(self.client, config.image)
        self.owner = owner_label()
        self.reaped = reap_stale(self.client)
        self._api_lock = threading.Lock()  # requests sessions are not documented thread-safe

    def start_worker(self, slot: int) -> DockerWorker:
        from docker.errors import DockerException

        uid = UID_BASE + slot
        try:
            with self._api_lock:
                created = self.client.api.create_container(
                    self.config.image,
                    command=runner_command(),
                    user=f"{uid}:{uid}",
                    stdin_open=True,
                    environment=CONTAINER_ENV,
                    working_dir="/tmp",
                    hostname="sandbox",
                    network_disabled=True,
                    labels={SANDBOX_LABEL: "1", OWNER_LABEL: self.owner},
                    host_config=hardened_host_config(self.client, self.config),
                )
                container_id = created["Id"]
                attached = self.client.api.attach_socket(
                    container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
                self.client.api.start(container_id)
        except DockerException as exc:
            raise SandboxError(f"could not start a sandbox container: {short_error(exc)}") from exc
        channel = DockerChannel(attached)
        try:
            channel.send(runner_init(self.config))
            hello = channel.receive(timeout=60)
        except SandboxError:
            channel.close()
            self.remove(container_id)
            raise
        return DockerWorker(self, slot, container_id, channel, hello)

    def remove(self, container_id: str) -> None:
        from docker.errors import DockerException

        try:
            with self._api_lock:
                self.client.api.remove_container(container_id, force=True)
        except DockerException:
            pass  # gone already, or the engine's auto-remove got there first

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass
