"""`--changed-since REF`: the line numbers of a data file added or changed since a git ref.

A pull request that touches 50 rows of a 1M-row file then verifies 50. Lines are those of the
working tree's file, 1-based, as `git diff --unified=0 REF -- FILE` reports them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


class ChangedLinesError(RuntimeError):
    pass


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise ChangedLinesError("--changed-since needs git, which is not installed") from exc


def changed_lines(path: Path, ref: str) -> frozenset[int] | None:
    """The changed line numbers, or None when every line counts as changed (a file git does not track)."""
    path = path.resolve()
    folder = path.parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise ChangedLinesError(f"--changed-since: {path} is not inside a git repository")
    if _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise ChangedLinesError(f"--changed-since: unknown git ref {ref!r} (fetch it first, e.g. git fetch origin {ref})")
    tracked = _git(folder, "ls-files", "--error-unmatch", "--", path.name).returncode == 0
    if not tracked:
        return None  # new in its entirety: verified like a run without --changed-since
    diff = _git(folder, "diff", "--no-color", "--no-ext-diff", "--unified=0", ref, "--", path.name)
    if diff.returncode != 0:
        raise ChangedLinesError(f"--changed-since: git diff failed: {diff.stderr.decode(errors='replace').strip()}")
    lines: set[int] = set()
    for match in HUNK.finditer(diff.stdout):
        start = int(match.group(1))
        count = 1 if match.group(2) is None else int(match.group(2))
        lines.update(range(start, start + count))
    return frozenset(lines)
