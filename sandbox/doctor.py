"""`verify sandbox doctor`: is everything the code check needs in place, and if not, how to fix it.

Checks, in order (later ones need the earlier): the engine answers; the image exists; a
hardened container starts and its python has a full standard library; its settings are the
hardened ones; a passing and a failing program get the right verdicts. Stale containers of
dead runs are reported before the trial (starting a pool would reap them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.engine import OWNER_LABEL, EngineUnavailable, connect, labelled_containers, owner_is_gone, require_image

BUILD_HINT = "build it: `verify sandbox build` (pulls python slim) or `sudo verify sandbox build --debootstrap` (offline)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(image: str) -> Iterator[Check]:
    """Yield each check as it completes; stop at the first one the rest depend on."""
    try:
        client = connect(timeout=30)
    except EngineUnavailable as exc:
        yield Check("engine", False, str(exc), "sudo scripts/setup_docker.sh")
        return
    version = client.version()
    yield Check("engine", True, f"Docker {version.get('Version')} (API {version.get('ApiVersion')})")
    try:
        info = require_image(client, image)
    except EngineUnavailable as exc:
        yield Check("image", False, str(exc), BUILD_HINT)
        return
    size_mb = info.get("Size", 0) / 1e6
    yield Check("image", True, f"{image} ({info['Id'][7:19]}, {size_mb:.0f} MB)")
    yield stale_check(client)
    yield from verifier_checks(client, image)


def verifier_checks(client: Any, image: str) -> Iterator[Check]:
    from sandbox.verifier import CodeVerifier
    from verify.records import Record

    verifier = CodeVerifier({"image": image, "pool_size": 1, "timeout_s": 10})
    try:
        try:
            verifier.pool.warm_up()
        except Exception as exc:
            yield Check("container", False, f"a sandbox container did not start: {exc}", "read the engine's log; try `docker run --rm -i IMAGE python3 -V`")
            return
        worker = verifier.pool.live_workers()[0]
        hello = worker.hello
        missing = hello.get("missing_stdlib") or []
        if missing:
            yield Check("stdlib", False, f"python {hello.get('python')} in the image lacks {', '.join(missing)}",
                        "install python3 (not python3-minimal) in the image; " + BUILD_HINT)
        else:
            yield Check("stdlib", True, f"python {hello.get('python')} with a full standard library, running as uid {hello.get('uid')}")
        yield hardening_check(client, getattr(worker, "container_id", ""))
        yield trial_check(verifier, Record)
    finally:
        verifier.close()


def hardening_check(client: Any, container_id: str) -> Check:
    host = client.api.inspect_container(container_id)["HostConfig"]
    expected = {
        "network none": host.get("NetworkMode") == "none",
        "read-only root": bool(host.get("ReadonlyRootfs")),
        "cap-drop ALL": host.get("CapDrop") in (["ALL"], ["all"]),
        "no-new-privileges": any("no-new-privileges" in option for option in host.get("SecurityOpt") or []),
        "pids limit": bool(host.get("PidsLimit")),
        "memory limit": bool(host.get("Memory")),
        "log driver none": (host.get("LogConfig") or {}).get("Type") == "none",
    }
    missing = [name for name, ok in expected.items() if not ok]
    if missing:
        return Check("hardening", False, "the engine did not apply: " + ", ".join(missing), "use a Docker engine that honours these HostConfig settings")
    return Check("hardening", True, ", ".join(expected))


def trial_check(verifier: Any, record_type: Any) -> Check:
    def record(body: str) -> Any:
        return record_type(id="doctor", line=1, messages=[{"role": "user", "content": "add"}, {"role": "assistant", "content": f"```python\n{body}\n```"}], checks={})

    spec = {"language": "python", "tests": "assert add(2, 3) == 5\n", "entry_point": "add"}
    good, bad = verifier.verify_batch([(record("def add(a, b):\n    return a + b"), spec), (record("def add(a, b):\n    return a - b"), spec)])
    if good.status == "pass" and bad.status == "fail" and bad.code == "code.assertion_failed":
        return Check("trial", True, f"a correct program passed ({good.seconds * 1000:.0f} ms) and a wrong one failed")
    return Check("trial", False, f"unexpected verdicts: {good.status} ({good.reason}); {bad.status} ({bad.reason})", "report this as a bug")


def stale_check(client: Any) -> Check:
    stale = [c for c in labelled_containers(client) if owner_is_gone((c.get("Labels") or {}).get(OWNER_LABEL, ""))]
    if stale:
        return Check("stale", False, f"{len(stale)} sandbox containers of dead runs remain", "verify sandbox clean")
    return Check("stale", True, "no sandbox containers left by dead runs")
