"""Helpers for driving the real `verify` CLI in a subprocess from tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from verify.state import read_committed

PLUGINS = Path(__file__).resolve().parent / "plugins"


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An isolated environment: its own cache folder, the test plug-ins importable."""
    env = dict(os.environ)
    env["SFT_VERIFY_CACHE"] = str(tmp / "cache")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH", "")]))
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.update(extra)
    return env


def run_verify(args: list[str], tmp: Path, cwd: Path | None = None, timeout: float = 300,
               **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verify.cli", *args],
        cwd=cwd or tmp, env=cli_env(tmp, **env), capture_output=True, text=True, timeout=timeout,
    )


def chat(response: str, prompt: str = "q", **fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], **fields}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def without_seconds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with verdict timings dropped: the only part of an output that differs between runs."""
    for row in rows:
        for verdict in row.get("verdicts", []):
            verdict.pop("seconds", None)
    return rows


def committed_line(out: Path) -> int:
    """The next line of a run's last commit (0 before the first commit)."""
    progress = read_committed(out)
    return progress.next_line if progress else 0
