"""The engine side: unavailable engine or image, stale and orphaned containers, the local backend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from sandbox.engine import OWNER_LABEL, SANDBOX_LABEL, connect, labelled_containers
from sandbox.verifier import CodeVerifier
from verify.records import Record
from verify.verifier import VerifierUnavailable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def record(code: str) -> Record:
    return Record(id="t", line=1, messages=[{"role": "assistant", "content": f"```python\n{code}```"}], checks={})


def test_no_engine_means_unavailable_never_the_host(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(VerifierUnavailable) as caught:
        CodeVerifier({})
    message = str(caught.value)
    assert message.startswith("code checks need the Docker sandbox: the Docker engine is not reachable")
    assert "verify sandbox doctor" in message and "scripts/setup_docker.sh" in message


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError, match="timeout_s 90.0 exceeds max_timeout_s 60.0"):
        CodeVerifier({"timeout_s": 90, "backend": "local-unsafe"})
    with pytest.raises(ValueError, match="backend"):
        CodeVerifier({"backend": "podman"})


def test_local_unsafe_backend_is_loud_and_works(capsys):
    built = CodeVerifier({"backend": "local-unsafe", "pool_size": 1, "timeout_s": 2})
    try:
        assert "WARNING: code check backend 'local-unsafe'" in capsys.readouterr().err
        spec = {"tests": "assert f() == 1\n", "entry_point": "f"}
        good = built.verify(record("def f():\n    return 1\n"), spec)
        assert (good.status, good.details["backend"]) == ("pass", "local-unsafe")
        loop = built.verify(record("while True:\n    pass\n"), spec)
        assert (loop.status, loop.code) == ("fail", "code.timeout")
        leftover = built.verify(record("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\ndef f():\n    return 1\n"), spec)
        assert leftover.status == "pass"
        worker = built.pool.live_workers()[0]
        from sandbox.runner import descendants

        assert descendants(worker.process.pid) == []
    finally:
        built.close()


@pytest.mark.docker
def test_missing_image_means_unavailable():
    with pytest.raises(VerifierUnavailable, match="sandbox image 'sft-verify/no-such-image:0' is missing: build it with `verify sandbox build`"):
        CodeVerifier({"image": "sft-verify/no-such-image:0"})


@pytest.mark.docker
def test_stale_containers_of_dead_owners_are_reaped():
    client = connect()
    dead_owner = f"{socket.gethostname()}:999999999:1"
    other_host = "some-other-host:1:1"
    created = [
        client.api.create_container("sft-verify/sandbox:latest", command=["true"], labels={SANDBOX_LABEL: "1", OWNER_LABEL: owner})["Id"]
        for owner in (dead_owner, other_host)
    ]
    try:
        built = CodeVerifier({"pool_size": 1})
        built.close()
        remaining = {c["Id"] for c in labelled_containers(client)}
        assert created[0] not in remaining, "a dead owner's container was not reaped"
        assert created[1] in remaining, "another host's container must be left alone"
    finally:
        for container_id in created:
            try:
                client.api.remove_container(container_id, force=True)
            except Exception:
                pass


@pytest.mark.docker
def test_sigkilled_run_leaves_no_containers():
    script = textwrap.dedent(
        """
        import sys, time
        from sandbox.verifier import CodeVerifier
        built = CodeVerifier({"pool_size": 2})
        built.pool.warm_up()
        print("ready", flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        client = connect()

        def owned():
            return [c for c in labelled_containers(client) if (c.get("Labels") or {}).get(OWNER_LABEL, "").split(":")[1:2] == [str(child.pid)]]

        assert len(owned()) == 2
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 20
        while owned() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert owned() == [], "containers outlived their SIGKILLed owner"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
