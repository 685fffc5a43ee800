"""The verdict cache on its own: what it stores, what it reads back, several writers at once."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

from verify.cache import VerdictCache, cache_key
from verify.records import Verdict


def test_verdicts_round_trip_with_and_without_details(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "v.sqlite")
    verdicts = {
        b"a" * 32: Verdict("math", "fail", 'wrong "answer" — é', "math.wrong", {"gold": "3", "found": [1, 2]}, 0.25),
        b"b" * 32: Verdict("nonempty", "pass", "response has text", "", {}, 0.0000123),
        b"c" * 32: Verdict("nonempty", "pass", "response has text", "", {}, 0.5),
        b"d" * 32: Verdict("translation", "skip", "no back-translation", "translation.skipped"),
    }
    cache.put_many(verdicts.items())
    found = cache.get_many(list(verdicts))
    assert found == {key: Verdict(v.check, v.status, v.reason, v.code, v.details, round(v.seconds, 6))
                     for key, v in verdicts.items()}
    cache.close()


def test_errors_are_never_stored(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "v.sqlite")
    cache.put_many([(b"e" * 32, Verdict("code", "error", "engine down", "code.unavailable"))])
    assert cache.get_many([b"e" * 32]) == {}


def test_rows_written_in_the_older_object_form_still_read(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    VerdictCache(path).close()
    old = {"check": "math", "status": "pass", "reason": "equal", "code": "", "details": {"x": 1}, "seconds": 0.5}
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO verdicts (key, verdict) VALUES (?, ?)", (b"k" * 32, json.dumps(old)))
    assert VerdictCache(path).get_many([b"k" * 32]) == {b"k" * 32: Verdict("math", "pass", "equal", "", {"x": 1}, 0.5)}


def test_a_value_that_cannot_be_read_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    cache = VerdictCache(path)
    cache.put_many([(b"g" * 32, Verdict("math", "pass", "equal"))])
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO verdicts (key, verdict) VALUES (?, ?)",
                               [(b"j" * 32, "{not json"), (b"l" * 32, '["too", "short"]'), (b"d" * 32, '{"check": "x"}')])
    assert cache.get_many([b"g" * 32, b"j" * 32, b"l" * 32, b"d" * 32]) == {b"g" * 32: Verdict("math", "pass", "equal")}


def _write_range(path: str, start: int, count: int) -> None:
    cache = VerdictCache(Path(path))
    for chunk in range(start, start + count, 500):
        cache.put_many(
            [(cache_key("nonempty", "1", "", {"n": n}), Verdict("nonempty", "pass", f"row {n}")) for n in range(chunk, chunk + 500)]
        )
    cache.close()


def test_several_processes_write_at_once_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    VerdictCache(path).close()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_range, args=(str(path), n * 5000, 5000)) for n in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    keys = [cache_key("nonempty", "1", "", {"n": n}) for n in range(15000)]
    found = VerdictCache(path).get_many(keys)
    assert len(found) == 15000
    assert found[keys[12345]].reason == "row 12345"
