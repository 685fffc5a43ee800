"""The dedup index: the first occurrences seen so far, on disk in SQLite.

Memory stays flat however many rows pass: the index lives in one SQLite file and the process
holds only SQLite's page cache (`cache_mb`) plus one batch. Per first occurrence it stores
its line, id and 16-bit signature (`kept`), its exact key (`exact`) and its LSH band keys
(`bands`); duplicates are never stored, so later rows are compared with first occurrences only.

Durability: every change since the last `commit()` sits in one open transaction. After a
SIGKILL, SQLite's write-ahead log rolls it back, so reopening gives exactly the state of the
last commit — what `verify run --resume` needs.

Replays are harmless: a decision only looks at first occurrences on earlier lines, and writes
ignore rows already stored. So if the pipeline dies after this index committed but before the
run's own commit, the rows it sends again get the verdicts they got the first time.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from verify.dedup.fingerprint import Fingerprint, similarity

STATE_FILE = "dedup.sqlite"
SQL_BATCH = 900  # stays under SQLite's oldest limit of 999 bound variables per statement
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kept (line INTEGER PRIMARY KEY, id TEXT NOT NULL, sig BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS exact (key BLOB PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS bands (key INTEGER NOT NULL, line INTEGER NOT NULL, PRIMARY KEY (key, line)) "
    "WITHOUT ROWID",
)


class StateMismatch(RuntimeError):
    """The saved state was built with other settings; the message says how to proceed."""


@dataclass(frozen=True)
class Decision:
    kind: str  # "unique" | "exact" | "near"
    line: int = 0  # the first occurrence this row duplicates
    id: str = ""
    similarity: float = 0.0
    candidates: int = 0  # earlier first occurrences sharing a band with this row


@dataclass(frozen=True)
class Item:
    line: int
    id: str
    fingerprint: Fingerprint


def _chunks(values: Sequence[Any], size: int = SQL_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class DedupIndex:
    """First occurrences, with exact and LSH lookups; one open transaction between commits."""

    def __init__(self, path: Path, layout: dict[str, Any], fresh: bool, cache_mb: int = 256,
                 max_per_band: int = 8) -> None:
        self.path = Path(path)
        self.max_per_band = max_per_band
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
        self.db.execute("PRAGMA temp_store=FILE")
        for statement in SCHEMA:
            self.db.execute(statement)
        self._check_layout(layout)
        self.db.execute("BEGIN")

    def _check_layout(self, layout: dict[str, Any]) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
        text = json.dumps(layout, sort_keys=True)
        if row is None:
            self.db.execute("INSERT INTO meta (key, value) VALUES ('layout', ?)", (text,))
            return
        if row[0] != text:
            saved = json.loads(row[0])
            differing = sorted(k for k in set(saved) | set(layout) if saved.get(k) != layout.get(k))
            raise StateMismatch(
                f"dedup state in {self.path} was built with other settings ({', '.join(differing)}); "
                "run again without --resume, or with the original dedup options"
            )

    def decide(self, items: Sequence[Item], threshold: float, near: bool = True) -> list[Decision]:
        """Decide each item in order against earlier first occurrences; store the new ones."""
        known_exact = self._lookup("SELECT key, line FROM exact WHERE key IN ({})", [i.fingerprint.exact for i in items])
        known_bands: dict[int, list[int]] = {}
        counts: Counter[int] = Counter()
        if near:
            counts = Counter(chain.from_iterable(item.fingerprint.bands for item in items))
            for key, line in self._rows("SELECT key, line FROM bands WHERE key IN ({})", sorted(counts)):
                known_bands.setdefault(key, []).append(line)
        # Keys seen before or twice in this batch; a row holding none of them has no candidate.
        contested = set(known_bands).union(key for key, count in counts.items() if count > 1)
        wanted = set(known_exact.values()) | {line for lines in known_bands.values() for line in lines}
        kept = {
            line: (record_id, sig)
            for line, record_id, sig in self._rows("SELECT line, id, sig FROM kept WHERE line IN ({})", sorted(wanted))
        }
        new_exact: dict[bytes, int] = {}
        new_kept: list[tuple[int, str, bytes]] = []
        new_bands: list[tuple[int, int]] = []
        decisions = []
        for item in items:
            fp = item.fingerprint
            first = new_exact.get(fp.exact, known_exact.get(fp.exact))
            if first is not None and first < item.line:
                decisions.append(Decision("exact", first, kept[first][0], 1.0))
                continue
            shared = near and not contested.isdisjoint(fp.bands)
            decision = self._nearest(item, known_bands, kept, threshold) if shared else Decision("unique")
            decisions.append(decision)
            if decision.kind == "near":
                continue
            kept[item.line] = (item.id, fp.signature)
            new_kept.append((item.line, item.id, fp.signature))
            new_exact.setdefault(fp.exact, item.line)
            if not near:
                continue
            if not shared:
                new_bands.extend(zip(fp.bands, repeat(item.line)))
                continue
            for key in fp.bands:
                lines = known_bands.setdefault(key, [])
                if len(lines) < self.max_per_band:
                    lines.append(item.line)
                    new_bands.append((key, item.line))
        self.db.executemany("INSERT OR IGNORE INTO kept (line, id, sig) VALUES (?, ?, ?)", new_kept)
        self.db.executemany("INSERT OR IGNORE INTO exact (key, line) VALUES (?, ?)", sorted(new_exact.items()))
        new_bands.sort()  # inserting in key order touches each B-tree page once: several times faster
        self.db.executemany("INSERT OR IGNORE INTO bands (key, line) VALUES (?, ?)", new_bands)
        return decisions

    def _nearest(self, item: Item, bands: dict[int, list[int]], kept: dict[int, tuple[str, bytes]],
                 threshold: float) -> Decision:
        """The most similar earlier first occurrence sharing a band, if it reaches `threshold`."""
        found: set[int] = set()
        for key in item.fingerprint.bands:
            lines = bands.get(key)
            if lines:
                found.update(lines)
        candidates = sorted(line for line in found if line < item.line)
        best_line, best = 0, -1.0
        for line in candidates:
            score = similarity(item.fingerprint.signature, kept[line][1])
            if score > best:
                best_line, best = line, score
        if best >= threshold:
            return Decision("near", best_line, kept[best_line][0], best, len(candidates))
        return Decision("unique", similarity=max(best, 0.0), candidates=len(candidates))

    def _lookup(self, sql: str, keys: Sequence[Any]) -> dict[Any, int]:
        return dict(self._rows(sql, sorted(set(keys))))

    def _rows(self, sql: str, keys: Sequence[Any]) -> Iterable[tuple[Any, ...]]:
        for part in _chunks(keys):
            yield from self.db.execute(sql.format(",".join("?" * len(part))), list(part))

    def commit(self) -> None:
        """Make everything decided so far durable (the state a resumed run starts from)."""
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")

    def counts(self) -> dict[str, int]:
        return {table: self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("kept", "exact", "bands")}

    def close(self) -> None:
        """Drop what was not committed and close the file."""
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass
        self.db.close()
