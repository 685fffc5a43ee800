"""`--resume` after a real SIGKILL in the middle of a run: no row lost, none duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spine import PLUGINS, chat, cli_env, committed_line, read_jsonl, run_verify, without_seconds, write_jsonl

OUTCOME_FILES = ("kept", "rejected", "errors", "unchecked", "invalid")


def make_input(path: Path, rows: int) -> Path:
    lines: list = []
    for i in range(rows):
        if i % 97 == 0:
            lines.append("{broken")
        elif i % 89 == 0:
            lines.append("")
        else:
            text = f"bad {i % 40}" if i % 5 == 0 else f"reply {i % 300}"
            lines.append(chat(text, id=f"r{i % 2900}", checks={"slow": {"ms": 3}, "seen": {}, "mainside": {"ok": i % 7 != 0}}))
    return write_jsonl(path, lines)


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    data = make_input(tmp_path / "data.jsonl", 3000)
    args = ["run", str(data), "--plugin", "pipeline_checks", "--no-cache", "--workers", "2"]
    reference = run_verify([*args, "-o", "full"], tmp_path)
    assert reference.returncode == 1, reference.stderr

    process = subprocess.Popen([sys.executable, "-m", "verify.cli", *args, "-o", "cut"], cwd=tmp_path,
                               env=cli_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and committed_line(tmp_path / "cut") < 300:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    partial_rows = sum(len(read_jsonl(tmp_path / "cut" / f"{name}.jsonl")) for name in OUTCOME_FILES)
    assert 0 < partial_rows < 2900, "the kill must land in the middle of the run"

    resumed = run_verify([*args, "-o", "cut", "--resume"], tmp_path)
    assert resumed.returncode == 1, resumed.stderr
    assert "resume: continuing at line" in resumed.stderr
    for name in OUTCOME_FILES:
        full = read_jsonl(tmp_path / "full" / f"{name}.jsonl")
        cut = read_jsonl(tmp_path / "cut" / f"{name}.jsonl")
        assert without_seconds(cut) == without_seconds(full), name
    assert (tmp_path / "cut" / "kept.jsonl").read_bytes() == (tmp_path / "full" / "kept.jsonl").read_bytes()
    full_report = json.loads((tmp_path / "full" / "report.json").read_text())
    cut_report = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert cut_report["counts"] == full_report["counts"]
    assert cut_report["adds_up"] and sum(cut_report["counts"].values()) == 3000
    full_manifest = json.loads((tmp_path / "full" / "manifest.json").read_text())
    cut_manifest = json.loads((tmp_path / "cut" / "manifest.json").read_text())
    assert cut_manifest["kept"] == full_manifest["kept"]


def test_resume_refuses_a_changed_input(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat("a", checks={"nonempty": {}})])
    args = ["run", str(data), "-o", "out", "--plugin", "pipeline_checks"]
    assert run_verify(args, tmp_path).returncode == 0
    write_jsonl(data, [chat("a", checks={"nonempty": {}}), chat("b", checks={"nonempty": {}})])
    result = run_verify([*args, "--resume"], tmp_path)
    assert result.returncode == 2 and "input_sha256" in result.stderr


def test_resume_of_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat(f"a{i}", checks={"nonempty": {}}) for i in range(10)])
    args = ["run", str(data), "-o", "out", "--plugin", "pipeline_checks"]
    assert run_verify(args, tmp_path).returncode == 0
    before = (tmp_path / "out" / "kept.jsonl").read_bytes()
    assert run_verify([*args, "--resume"], tmp_path).returncode == 0
    assert (tmp_path / "out" / "kept.jsonl").read_bytes() == before


def test_resume_of_a_finished_run_starts_no_engine(tmp_path: Path, monkeypatch) -> None:
    """No worker pool (and, with --engine ray, no Ray cluster) just to rewrite a finished run's reports."""
    from verify import pipeline

    monkeypatch.syspath_prepend(str(PLUGINS))
    data = write_jsonl(tmp_path / "data.jsonl", [chat(f"a{i}", checks={"nonempty": {}}) for i in range(10)])
    config = pipeline.RunConfig(input=data, out_dir=tmp_path / "out", workers=0, use_cache=False,
                                plugins=("pipeline_checks",))
    assert pipeline.Pipeline(config).run().stats.outcomes["kept"] == 10

    def no_engine(*args: object) -> None:
        raise AssertionError("an engine was started to resume a finished run")

    monkeypatch.setattr(pipeline, "make_engine", no_engine)
    again = pipeline.Pipeline(pipeline.RunConfig(**{**vars(config), "resume": True})).run()
    assert again.stats.outcomes["kept"] == 10 and again.input_lines == 10


def test_sigkill_leaves_no_worker_processes(tmp_path: Path) -> None:
    data = make_input(tmp_path / "data.jsonl", 3000)
    process = subprocess.Popen([sys.executable, "-m", "verify.cli", "run", str(data), "--plugin", "pipeline_checks",
                                "--no-cache", "--workers", "2", "-o", "cut"], cwd=tmp_path, env=cli_env(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and committed_line(tmp_path / "cut") < 300:
        time.sleep(0.05)
    children = descendants(process.pid)
    assert len(children) >= 2, "the run should have worker processes"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.1)
    assert not [pid for pid in children if alive(pid)]


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
