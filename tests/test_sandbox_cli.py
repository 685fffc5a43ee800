"""`verify sandbox build | doctor | clean` through the real CLI entry point."""

from __future__ import annotations

import io
import tarfile

import pytest
from click.testing import CliRunner

from sandbox.engine import DEFAULT_IMAGE, SANDBOX_LABEL, connect
from verify.cli import cli

pytestmark = pytest.mark.docker


def invoke(*args):
    return CliRunner().invoke(cli, ["sandbox", *args])


def test_doctor_passes_on_a_ready_machine():
    result = invoke("doctor")
    assert result.exit_code == 0, result.output
    for name in ("engine", "image", "stale", "stdlib", "hardening", "trial"):
        assert f"ok   {name}" in result.output
    assert "the sandbox is ready" in result.output


def test_doctor_names_the_missing_image_and_the_fix():
    result = invoke("doctor", "--image", "sft-verify/not-built:0")
    assert result.exit_code == 2
    assert "FAIL image" in result.output
    assert "fix: build it: `verify sandbox build`" in result.output


def test_build_rejects_a_folder_without_python(tmp_path):
    (tmp_path / "etc").mkdir()
    result = invoke("build", "--rootfs", str(tmp_path), "--tag", "sft-verify/test-bad:0")
    assert result.exit_code == 2
    assert "has no usr/bin/python3" in result.output


def test_build_dockerfile_route_and_rootfs_route(tmp_path):
    """Both routes, offline: the Dockerfile on a local base, and a root fs exported from it."""
    client = connect()
    dockerfile_tag, rootfs_tag = "sft-verify/test-dockerfile:0", "sft-verify/test-rootfs:0"
    try:
        result = invoke("build", "--base", DEFAULT_IMAGE, "--tag", dockerfile_tag)
        assert result.exit_code == 0, result.output
        labels = client.api.inspect_image(dockerfile_tag)["Config"]["Labels"]
        assert labels.get(SANDBOX_LABEL) == "1"
        container = client.api.create_container(DEFAULT_IMAGE, command=["true"])
        try:
            stream = client.api.export(container["Id"])
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream)), mode="r|") as archive:
                archive.extractall(tmp_path / "rootfs", filter="fully_trusted")
        finally:
            client.api.remove_container(container["Id"], force=True)
        result = invoke("build", "--rootfs", str(tmp_path / "rootfs"), "--tag", rootfs_tag)
        assert result.exit_code == 0, result.output
        assert client.api.inspect_image(rootfs_tag)["Config"]["Labels"].get(SANDBOX_LABEL) == "1"
        assert invoke("doctor", "--image", rootfs_tag).exit_code == 0
    finally:
        for tag in (dockerfile_tag, rootfs_tag):
            try:
                client.api.remove_image(tag, force=True)
            except Exception:
                pass


def test_clean_reports_what_it_removed():
    result = invoke("clean")
    assert result.exit_code == 0
    assert result.output.startswith("removed ")
