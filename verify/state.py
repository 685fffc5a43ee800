"""A run's durable progress, for `--resume` after a crash or SIGKILL.

`out/.verify-state/state.sqlite` holds, in one transaction per commit: the next input line and
byte offset, the size of every output file, the statistics so far, and the ids seen (for the
duplicate-id rule, kept on disk so memory stays flat on 10M rows). Output files are flushed and
fsynced before the commit, so after a kill the files are cut back to the committed sizes and the
run continues from the committed line: no row lost, none duplicated.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_DIR = ".verify-state"
STATE_DB = "state.sqlite"


@dataclass
class Progress:
    next_line: int
    offset: int
    file_sizes: dict[str, int]
    stats: dict[str, Any]
    finished: bool


class RunState:
    def __init__(self, out_dir: Path, fresh: bool) -> None:
        self.dir = out_dir / STATE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / STATE_DB
        if fresh and path.exists():
            path.unlink()
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # Keyed by the id text itself: ids usually grow in order (row-1, row-2, ...), so inserts land
        # near each other in the B-tree (a hash key would scatter them and was twice as slow).
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS ids (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID"
        )
        self.connection.execute("BEGIN")

    def get(self, key: str) -> Any:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set(self, key: str, value: Any) -> None:
        self.connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def progress(self) -> Progress | None:
        data = self.get("progress")
        return None if data is None else Progress(**data)

    def claim_ids(self, items: Sequence[tuple[str, int]]) -> dict[str, int]:
        """Record ids in input order; return {id: first line} for those already taken.

        The common case (no id seen before) costs one batched insert: only when some inserts
        were ignored are the stored lines read back to find which ids were taken earlier.
        """
        taken: dict[str, int] = {}
        unique: dict[str, int] = {}
        for record_id, line in items:
            if record_id in unique:
                taken.setdefault(record_id, unique[record_id])
            else:
                unique[record_id] = line
        before = self.connection.total_changes
        self.connection.executemany("INSERT OR IGNORE INTO ids (id, line) VALUES (?, ?)", unique.items())
        if self.connection.total_changes - before == len(unique):
            return taken
        keys = list(unique)
        for start in range(0, len(keys), 500):
            batch = keys[start:start + 500]
            marks = ",".join("?" * len(batch))
            for record_id, line in self.connection.execute(f"SELECT id, line FROM ids WHERE id IN ({marks})", batch):
                if line != unique[record_id]:
                    taken[record_id] = line
        return taken

    def commit(self, progress: Progress) -> None:
        self.set("progress", progress.__dict__)
        self.connection.execute("COMMIT")
        self.connection.execute("BEGIN")

    def close(self) -> None:
        try:
            self.connection.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass
        self.connection.close()


def read_committed(out_dir: Path) -> Progress | None:
    """The last committed progress of a run folder, read-only (for monitoring a run from outside);
    None before the first commit or when the folder holds no run state."""
    path = out_dir / STATE_DIR / STATE_DB
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'progress'").fetchone()
    except sqlite3.OperationalError:
        return None
    return Progress(**json.loads(row[0])) if row else None
