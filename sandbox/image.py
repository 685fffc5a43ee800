"""Building the sandbox image: from `sandbox/Dockerfile` (pulls a python slim base) or offline
by importing a Debian root filesystem made with debootstrap (no registry needed).

Both routes give an image with python3 and its full standard library; the runner itself is
sent at container start, so an image never has to be rebuilt when sft-verify changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.engine import SANDBOX_LABEL

HERE = Path(__file__).resolve().parent
DEFAULT_PYTHON = "3.12"
DEFAULT_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
IMPORT_CHANGES = [
    f"LABEL {SANDBOX_LABEL}=1",
    "ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1",
    "WORKDIR /tmp",
    "USER 65534:65534",
    'CMD ["python3"]',
]
# Bulk that a sandbox never reads: documentation, manuals, apt's caches.
TRIM_PATHS = ("usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt", "var/lib/apt/lists")

Say = Callable[[str], None]


class BuildError(RuntimeError):
    """The image could not be built; the message says why and what to try."""


def split_tag(tag: str) -> tuple[str, str]:
    from docker.utils import parse_repository_tag

    repository, version = parse_repository_tag(tag)
    return repository, version or "latest"


def build_from_dockerfile(client: Any, tag: str, python_version: str = DEFAULT_PYTHON, base: str | None = None, say: Say = print) -> str:
    """`docker build` of sandbox/Dockerfile; returns the image id."""
    buildargs = {"PYTHON_VERSION": python_version}
    if base:
        buildargs["BASE_IMAGE"] = base
    image_id = None
    for chunk in client.api.build(
        path=str(HERE), dockerfile="Dockerfile", tag=tag, buildargs=buildargs, rm=True, forcerm=True,
        network_mode="none", decode=True,
    ):
        if "error" in chunk:
            raise BuildError(
                f"docker build failed: {chunk['error'].strip()}. Without a reachable registry, build offline: "
                "`sudo verify sandbox build --debootstrap` (or `--rootfs DIR`)"
            )
        text = chunk.get("stream", "").rstrip()
        if text:
            say(text)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
    return image_id or client.api.inspect_image(tag)["Id"]


def check_rootfs(rootfs: Path) -> None:
    if not rootfs.is_dir():
        raise BuildError(f"{rootfs} is not a directory")
    if not any((rootfs / path).exists() for path in ("usr/bin/python3", "usr/local/bin/python3")):
        raise BuildError(f"{rootfs} has no usr/bin/python3: make it with `debootstrap --variant=minbase --include=python3 {DEFAULT_SUITE} {rootfs}`")
    stdlib = list(rootfs.glob("usr/lib/python3*/json/__init__.py")) + list(rootfs.glob("usr/local/lib/python3*/json/__init__.py"))
    if not stdlib:
        raise BuildError(f"{rootfs} has python3 without its full standard library (no json): install python3, not python3-minimal")


def import_rootfs(client: Any, rootfs: Path, tag: str) -> str:
    """`tar -C DIR -c . | docker import` with our label; returns the image id."""
    check_rootfs(rootfs)
    repository, version = split_tag(tag)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        result = client.api.import_image(src=tar.stdout, repository=repository, tag=version, changes=IMPORT_CHANGES, stream_src=True)
    finally:
        tar.stdout.close()
        _, stderr = tar.communicate()
    if tar.returncode:
        raise BuildError(f"tar of {rootfs} failed: {stderr.decode(errors='replace').strip()[:500]}")
    if isinstance(result, str) and '"error"' in result:
        raise BuildError(f"docker import failed: {result.strip()[:500]}")
    return client.api.inspect_image(tag)["Id"]


def debootstrap(target: Path, suite: str = DEFAULT_SUITE, mirror: str = DEFAULT_MIRROR) -> None:
    """Make a minimal Debian root filesystem with python3 (needs root and debootstrap)."""
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is not installed: `apt-get install -y debootstrap` (or run scripts/setup_docker.sh)")
    if os.geteuid() != 0:
        raise BuildError("debootstrap needs root: run `sudo verify sandbox build --debootstrap`")
    command = ["debootstrap", "--variant=minbase", "--include=python3", suite, str(target), mirror]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode:
        tail = (completed.stdout + completed.stderr).strip().splitlines()[-5:]
        raise BuildError(f"debootstrap failed (exit {completed.returncode}): " + " | ".join(tail))
    for relative in TRIM_PATHS:
        shutil.rmtree(target / relative, ignore_errors=True)


def build_offline(client: Any, tag: str, suite: str, mirror: str, keep: Path | None = None, say: Say = print) -> str:
    """debootstrap into a temporary folder (or `keep`), import it, return the image id."""
    with tempfile.TemporaryDirectory(prefix="sft-verify-rootfs-", dir="/var/tmp") as scratch:
        target = keep or Path(scratch) / "rootfs"
        say(f"debootstrap {suite} with python3 into {target} (about a minute)")
        debootstrap(target, suite, mirror)
        say(f"importing {target} as {tag}")
        return import_rootfs(client, target, tag)
