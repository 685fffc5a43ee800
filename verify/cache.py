"""The verdict cache: SQLite under the user's cache folder.

A verdict is keyed by the sha256 of (check name, verifier version, verifier options, the record
content the verifier reads), so a new verifier version or option never reuses stale verdicts.
Only decided verdicts (pass / fail / skip) are stored: an `error` is re-tried next time.
WAL mode lets several processes read and write; writes skip fsync (`synchronous=OFF`) because a
cache that loses its last writes in a power cut only recomputes them, and a cache file that cannot
be opened is moved aside and started afresh rather than failing the run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from verify.records import Verdict, canonical_json

SCHEMA = "CREATE TABLE IF NOT EXISTS verdicts (key BLOB PRIMARY KEY, verdict TEXT NOT NULL) WITHOUT ROWID"
LOOKUP_BATCH = 500


def default_cache_path() -> Path:
    from verify.modelio import cache_dir

    return cache_dir() / "verdicts.sqlite"


def cache_key(check: str, version: str, config_fingerprint: str, material: Any) -> bytes:
    text = f"{check}\0{version}\0{config_fingerprint}\0{canonical_json(material)}"
    return hashlib.sha256(text.encode("utf-8")).digest()


class VerdictCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = self._open()
        except sqlite3.DatabaseError:
            self.path.replace(self.path.with_name(self.path.name + ".damaged"))
            self.connection = self._open()

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=60000")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA wal_autocheckpoint=10000")
        connection.execute(SCHEMA)
        return connection

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Verdict]:
        found: dict[bytes, Verdict] = {}
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = list(keys[start:start + LOOKUP_BATCH])
            marks = ",".join("?" * len(batch))
            try:
                rows = self.connection.execute(f"SELECT key, verdict FROM verdicts WHERE key IN ({marks})", batch)
                for key, text in rows:
                    found[key] = Verdict.from_dict(json.loads(text))
            except sqlite3.OperationalError:
                return found  # a locked or damaged file is a miss, never a failure of the run
        return found

    def put_many(self, items: Iterable[tuple[bytes, Verdict]]) -> None:
        rows = [(key, json.dumps(v.to_dict(), ensure_ascii=False)) for key, v in items if v.status != "error"]
        if not rows:
            return
        with self.connection:
            self.connection.execute("BEGIN")
            self.connection.executemany("INSERT OR REPLACE INTO verdicts (key, verdict) VALUES (?, ?)", rows)

    def close(self) -> None:
        self.connection.close()
