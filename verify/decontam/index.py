"""Benchmark n-gram indexes: built once by `verify data decontam-index`, memory-mapped by checks.

One folder per benchmark under the index root (default `<cache>/decontam/<name>/`):

- `meta.json`: name, title, source file and its sha256, n, min_words, counts, content digest;
- `units.jsonl`: every unit (item id, field, text), so coverage and other n can be recomputed;
- `grams-<n>.npy` / `owners-<n>.npy`: the sorted 64-bit hashes of every unit's n-grams and, in
  parallel, the unit each comes from (one entry per distinct (hash, unit) pair).

A unit shorter than n words but at least `min_words` long is indexed by its `min_words`-grams
(GPT-3 lowered n for benchmarks of short items, down to 8); a unit shorter still is indexed as
one whole gram and matched only against a message that is exactly that unit, since a few common
words would otherwise match everywhere ("Compute $\\dbinom{8}{4}$." is contamination as a whole
prompt, not as part of any text). The arrays are loaded with `mmap_mode="r"`: worker processes
share the pages through the OS cache instead of each holding a copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from verify.decontam.sources import Unit
from verify.dedup.ngrams import window_hashes, word_hashes
from verify.dedup.text import TOKENIZER_VERSION, words

INDEX_FORMAT = 1
DEFAULT_NGRAM = 13
DEFAULT_MIN_WORDS = 8
META = "meta.json"
UNITS = "units.jsonl"


def default_index_dir() -> Path:
    from verify.modelio import cache_dir

    return cache_dir() / "decontam"


class IndexUnavailable(RuntimeError):
    """An index that is missing or unusable; the message says which command fixes it."""


def unit_grams(text: str, ngram: int, min_words: int) -> tuple[Any, int, bool]:
    """(gram hashes of a unit, their length, whether the unit is one whole-message gram).

    n-grams for a unit of at least n words; `min_words`-grams for a shorter unit of at least
    `min_words`; else the whole unit as one gram (none when it has no words).
    """
    import numpy as np

    tokens = words(text)
    if len(tokens) >= ngram:
        size, whole = ngram, False
    elif len(tokens) >= min_words:
        size, whole = min_words, False
    else:
        size, whole = len(tokens), True
    if not size:
        return np.empty(0, dtype=np.uint64), 0, True
    return window_hashes(word_hashes(tokens), size), size, whole


@dataclass
class GramTable:
    """Sorted gram hashes with the unit each comes from, and the gram lengths in use."""

    hashes: Any
    owners: Any
    lengths: tuple[int, ...]  # gram lengths matched anywhere in a message
    whole_lengths: tuple[int, ...]  # lengths of whole-unit grams, matched only against a whole message
    short_units: int = 0  # fewer than n words, at least min_words: matched by min_words-grams
    whole_units: int = 0  # fewer than min_words: matched only as a whole message


def gram_table(units: list[Unit], ngram: int, min_words: int,
               progress: Callable[[int], None] | None = None) -> GramTable:
    import numpy as np

    parts, owners, lengths, whole_lengths = [], [], {ngram}, set()
    short = whole_count = 0
    for number, unit in enumerate(units):
        grams, size, whole = unit_grams(unit.text, ngram, min_words)
        if whole and size:
            whole_count += 1
            whole_lengths.add(size)
        elif size and size != ngram:
            short += 1
            lengths.add(size)
        grams = np.unique(grams)
        parts.append(grams)
        owners.append(np.full(len(grams), number, dtype=np.int32))
        if progress is not None:
            progress(number + 1)
    hashes = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int32)
    order = np.lexsort((owner, hashes))
    return GramTable(hashes[order], owner[order], tuple(sorted(lengths)), tuple(sorted(whole_lengths)),
                     short, whole_count)


@dataclass
class BuildReport:
    name: str
    path: Path
    items: int
    units: int
    grams: int
    short_units: int
    whole_units: int
    seconds: float


def build_index(name: str, title: str, units: Iterable[Unit], root: Path, source: dict[str, Any],
                ngram: int = DEFAULT_NGRAM, min_words: int = DEFAULT_MIN_WORDS,
                progress: Callable[[int], None] | None = None) -> BuildReport:
    """Write the index folder `root/name` (atomically: built aside, then swapped in)."""
    import numpy as np

    started = time.perf_counter()
    unit_list = list(units)
    table = gram_table(unit_list, ngram, min_words, progress)
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    partial = root / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    digest = hashlib.sha256(f"{TOKENIZER_VERSION}\0{ngram}\0{min_words}\0".encode())
    with open(partial / UNITS, "w", encoding="utf-8") as out:
        for unit in unit_list:
            line = json.dumps({"item": unit.item, "field": unit.field, "text": unit.text}, ensure_ascii=False) + "\n"
            out.write(line)
            digest.update(line.encode("utf-8"))
    np.save(partial / f"grams-{ngram}.npy", table.hashes)
    np.save(partial / f"owners-{ngram}.npy", table.owners)
    items = len({unit.item for unit in unit_list})
    meta = {
        "format": INDEX_FORMAT,
        "name": name,
        "title": title,
        "source": source,
        "ngram": ngram,
        "min_words": min_words,
        "tokenizer": TOKENIZER_VERSION,
        "items": items,
        "units": len(unit_list),
        "grams": int(len(table.hashes)),
        "short_units": table.short_units,
        "whole_units": table.whole_units,
        "lengths": list(table.lengths),
        "whole_lengths": list(table.whole_lengths),
        "content_sha256": digest.hexdigest(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (partial / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    old = root / f".{name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return BuildReport(name, target, items, len(unit_list), int(len(table.hashes)), table.short_units,
                       table.whole_units, time.perf_counter() - started)


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META
    if not path.exists():
        raise IndexUnavailable(f"no decontam index in {folder}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexUnavailable(f"{path} is unreadable ({exc}); rebuild the index") from exc
    if meta.get("format") != INDEX_FORMAT or meta.get("tokenizer") != TOKENIZER_VERSION:
        raise IndexUnavailable(f"the index in {folder} was built by another version of sft-verify; rebuild it")
    return meta


@dataclass
class BenchmarkIndex:
    """One benchmark's grams, ready for lookups; `ngram` may differ from the one built on disk."""

    name: str
    title: str
    meta: dict[str, Any]
    ngram: int
    units: list[Unit]
    unit_item: Any  # int32: item number of each unit
    table: GramTable
    min_words: int = DEFAULT_MIN_WORDS
    multi_field: bool = False  # items have several indexed texts (MBPP: description and tests)

    @classmethod
    def load(cls, folder: Path, ngram: int | None = None) -> BenchmarkIndex:
        import numpy as np

        meta = read_meta(folder)
        units = []
        with open(folder / UNITS, encoding="utf-8") as handle:
            for line in handle:
                data = json.loads(line)
                units.append(Unit(data["item"], data["field"], data["text"]))
        n = ngram or meta["ngram"]
        if n == meta["ngram"]:
            # np.asarray drops the memmap subclass (slow to slice) but keeps the mapped pages
            table = GramTable(np.asarray(np.load(folder / f"grams-{n}.npy", mmap_mode="r")),
                              np.asarray(np.load(folder / f"owners-{n}.npy", mmap_mode="r")),
                              tuple(meta["lengths"]), tuple(meta["whole_lengths"]), meta["short_units"],
                              meta["whole_units"])
        else:  # another n than the one on disk: rebuilt in memory from the stored texts
            table = gram_table(units, n, meta["min_words"])
        item_numbers: dict[str, int] = {}
        unit_item = np.array([item_numbers.setdefault(unit.item, len(item_numbers)) for unit in units], dtype=np.int32)
        multi_field = len({unit.field for unit in units}) > 1
        return cls(meta["name"], meta.get("title", meta["name"]), meta, n, units, unit_item, table,
                   meta["min_words"], multi_field)


@lru_cache(maxsize=64)
def _cached_load(folder: str, ngram: int | None, stamp: float) -> BenchmarkIndex:
    return BenchmarkIndex.load(Path(folder), ngram)


def load_index(folder: Path, ngram: int | None = None) -> BenchmarkIndex:
    """Load once per process (keyed by folder, n and the meta file's mtime, so a rebuilt index is reread)."""
    meta = folder / META
    if not meta.exists():
        raise IndexUnavailable(f"no decontam index in {folder}")
    try:
        return _cached_load(str(folder.resolve()), ngram, meta.stat().st_mtime)
    except (OSError, ValueError, KeyError) as exc:  # a truncated or hand-edited index folder
        raise IndexUnavailable(f"the decontam index in {folder} is unreadable ({type(exc).__name__}: {exc})") from exc
