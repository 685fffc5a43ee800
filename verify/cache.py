"""The verdict cache: SQLite under the user's cache folder.

A verdict is keyed by the sha256 of (check name, verifier version, verifier options, the record
content the verifier reads), so a new verifier version or option never reuses stale verdicts.
Only decided verdicts (pass / fail / skip) are stored: an `error` is re-tried next time.
WAL mode lets several processes read at once while one writes. Writers queue on an advisory
lock file (`flock`) before they touch SQLite: SQLite's own busy handler polls with sleeps of up
to 100 ms, which with several workers committing every chunk cost more than the inserts
themselves; a blocked `flock` wakes the moment the lock is free. Writes skip fsync
(`synchronous=OFF`) because a cache that loses its last writes in a power cut only recomputes
them, and a cache file that cannot be opened is moved aside and started afresh rather than
failing the run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from verify.records import Verdict, canonical_json

SCHEMA = "CREATE TABLE IF NOT EXISTS verdicts (key BLOB PRIMARY KEY, verdict TEXT NOT NULL) WITHOUT ROWID"
LOOKUP_BATCH = 500
PAGE_CACHE_KIB = 8192  # per connection; random 32-byte keys touch pages all over the B-tree


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
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.connection = self._open()
        except sqlite3.DatabaseError:
            self.path.replace(self.path.with_name(self.path.name + ".damaged"))
            self.connection = self._open()

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA wal_autocheckpoint=10000")
        connection.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        connection.execute(SCHEMA)
        return connection

    @staticmethod
    def encode(verdict: Verdict, prefixes: dict[tuple[str, str, str, str], str]) -> str:
        """`[check, status, reason, code, details, seconds]` as JSON. Most verdicts of a run share
        their first four fields and have no details, so that prefix is serialised once per batch."""
        if verdict.details:
            fields = [verdict.check, verdict.status, verdict.reason, verdict.code, verdict.details]
            return json.dumps([*fields, round(verdict.seconds, 6)], ensure_ascii=False)
        head = (verdict.check, verdict.status, verdict.reason, verdict.code)
        prefix = prefixes.get(head)
        if prefix is None:
            prefix = prefixes[head] = json.dumps([*head, None], ensure_ascii=False)[:-1]
        return f"{prefix},{round(verdict.seconds, 6)!r}]"

    @staticmethod
    def decode(text: str) -> Verdict:
        data = json.loads(text)
        if isinstance(data, dict):  # written by sft-verify before the list form
            return Verdict.from_dict(data)
        check, status, reason, code, details, seconds = data
        return Verdict(check, status, reason, code, details or {}, float(seconds))

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Verdict]:
        found: dict[bytes, Verdict] = {}
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = list(keys[start:start + LOOKUP_BATCH])
            marks = ",".join("?" * len(batch))
            try:
                rows = self.connection.execute(f"SELECT key, verdict FROM verdicts WHERE key IN ({marks})", batch)
                fetched = rows.fetchall()
            except sqlite3.OperationalError:
                return found  # a locked or damaged file is a miss, never a failure of the run
            for key, text in fetched:
                try:
                    found[key] = self.decode(text)
                except (ValueError, TypeError, KeyError):
                    continue  # a value this version cannot read is a miss too
        return found

    def put_many(self, items: Iterable[tuple[bytes, Verdict]]) -> None:
        prefixes: dict[tuple[str, str, str, str], str] = {}
        rows = [(key, self.encode(v, prefixes)) for key, v in items if v.status != "error"]
        if not rows:
            return
        rows.sort()  # key order: each B-tree page is visited once per batch
        try:
            with open(self.lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with self.connection:
                    self.connection.execute("BEGIN IMMEDIATE")
                    self.connection.executemany("INSERT OR REPLACE INTO verdicts (key, verdict) VALUES (?, ?)", rows)
        except (OSError, sqlite3.OperationalError):
            return  # a cache that cannot take the write only misses next time; the run goes on

    def close(self) -> None:
        self.connection.close()
