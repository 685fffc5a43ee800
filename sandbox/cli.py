"""`verify sandbox ...`: build the sandbox image, check the set-up, clean up stale containers.

Mounted by verify/cli.py as `verify sandbox`; also runnable as `python -m sandbox.cli`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from sandbox.engine import DEFAULT_IMAGE, EngineUnavailable, connect, reap_stale
from sandbox.image import DEFAULT_MIRROR, DEFAULT_PYTHON, DEFAULT_SUITE, BuildError

console = Console(stderr=True, soft_wrap=True)


@click.group("sandbox")
def sandbox_group() -> None:
    """The Docker sandbox that runs the `code` check."""


@sandbox_group.command("build")
@click.option("--tag", default=DEFAULT_IMAGE, show_default=True, help="Image tag to create.")
@click.option("--python-version", default=DEFAULT_PYTHON, show_default=True, help="Dockerfile route: python:<version>-slim base.")
@click.option("--base", default=None, help="Dockerfile route: another base image with python3 (overrides --python-version).")
@click.option("--rootfs", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Offline route: import this debootstrap root filesystem instead of building the Dockerfile.")
@click.option("--debootstrap", "make_rootfs", is_flag=True, help="Offline route: make the root filesystem with debootstrap first (root).")
@click.option("--suite", default=DEFAULT_SUITE, show_default=True, help="Debian suite for --debootstrap.")
@click.option("--mirror", default=DEFAULT_MIRROR, show_default=True, help="Debian mirror for --debootstrap.")
def build_command(tag: str, python_version: str, base: str | None, rootfs: Path | None, make_rootfs: bool, suite: str, mirror: str) -> None:
    """Build the sandbox image (Dockerfile route by default; --rootfs / --debootstrap offline)."""
    from sandbox import image

    if rootfs is not None and make_rootfs and rootfs.exists() and any(rootfs.iterdir()):
        raise click.UsageError(f"--debootstrap would write into {rootfs}, which is not empty")
    try:
        client = connect()
        with console.status(f"building {tag}"):
            if make_rootfs:
                image_id = image.build_offline(client, tag, suite, mirror, keep=rootfs, say=console.print)
            elif rootfs is not None:
                image_id = image.import_rootfs(client, rootfs, tag)
            else:
                image_id = image.build_from_dockerfile(client, tag, python_version, base, say=console.print)
    except (EngineUnavailable, BuildError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    click.echo(f"built {tag} ({image_id[7:19]})")


@sandbox_group.command("doctor")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="Image tag the code check will use.")
def doctor_command(image: str) -> None:
    """Check the engine, the image, a live container and a trial run; exit 2 when something is missing."""
    from sandbox.doctor import run_checks

    failures = 0
    for check in run_checks(image):
        mark = "[green]ok  [/green]" if check.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {check.name:<10} {check.detail}", highlight=False)
        if not check.ok:
            failures += 1
            if check.fix:
                console.print(f"     fix: {check.fix}", highlight=False)
    if failures:
        console.print(f"{failures} problem(s): the code check will report `error` until they are fixed")
        sys.exit(2)
    console.print("the sandbox is ready")


@sandbox_group.command("clean")
@click.option("--all", "everything", is_flag=True, help="Remove every sft-verify sandbox container, also those of live runs.")
def clean_command(everything: bool) -> None:
    """Remove sandbox containers left behind by runs that died."""
    try:
        client = connect()
    except EngineUnavailable as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
    removed = reap_stale(client, everything=everything)
    click.echo(f"removed {removed} container(s)")


if __name__ == "__main__":
    sandbox_group()
