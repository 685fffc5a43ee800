"""How much of a benchmark item a text contains, measured with shared word n-grams.

The rule (Tulu 3's, with GPT-3's 13-word grams): a word of a benchmark unit counts as shared
when it lies inside an n-gram that the row's text also contains; the unit's coverage is the
share of its words that are shared. N-grams that occur in `template_items` or more items of the
same benchmark are template text (IFEval's "Your entire response should be in English, and in
all lowercase letters" appears in many prompts): they are neither evidence nor counted in the
unit's words, so a row that reuses a benchmark's instruction templates for a new task is not
flagged, while a row that copies the task is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from verify.decontam.index import BenchmarkIndex, unit_grams
from verify.dedup.ngrams import window_hashes, word_hashes
from verify.dedup.text import word_offsets, words

QUOTE_CHARS = 160


class MessageGrams:
    """One message's words, hashed once and shared by every index it is compared with."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words = words(text)
        self.hashed = word_hashes(self.words)
        self._windows: dict[int, Any] = {}

    def windows(self, size: int) -> Any:
        if size not in self._windows:
            self._windows[size] = window_hashes(self.hashed, size)
        return self._windows[size]

    def char_span(self, first_word: int, last_word: int) -> tuple[int, int]:
        offsets = word_offsets(self.text)
        return offsets[first_word][0], offsets[last_word][1]


@dataclass(frozen=True)
class Overlap:
    benchmark: str
    title: str
    item: str
    field: str
    coverage: float  # share of the unit's item-specific words that are shared with the text
    shared_words: int
    unit_words: int
    words: tuple[int, int]  # first and last word of the text's longest run shared with the unit
    gram: int  # words per gram used for this unit (n, min_words for short units, its length when whole)
    whole: bool  # a very short unit, matched only as the whole message

    @property
    def span_words(self) -> int:
        return self.words[1] - self.words[0] + 1


class UnitGrams(NamedTuple):
    """A merged unit's place and grams, computed once per unit by `Matcher.unit_windows`."""

    number: int  # which index
    local: int  # unit number within that index
    grams: Any  # its gram hashes
    size: int  # gram length
    whole: bool  # a whole-unit gram
    specific: Any  # mask of its non-template grams
    unit_words: int  # words covered by its non-template grams


def covered_words(starts: list[int], size: int) -> int:
    """Words covered by windows of `size` words starting at the sorted positions `starts`."""
    total = 0
    for current, following in zip(starts, [*starts[1:], None], strict=True):
        total += size if following is None else min(size, following - current)
    return total


def longest_run(positions: list[int]) -> tuple[int, int]:
    """(first, last) of the longest run of consecutive integers in sorted `positions`."""
    best = (positions[0], positions[0])
    start = previous = positions[0]
    for position in positions[1:]:
        if position != previous + 1:
            start = position
        previous = position
        if previous - start > best[1] - best[0]:
            best = (start, previous)
    return best


class Matcher:
    """Several benchmark indexes merged into one sorted table for the per-message lookups.

    Template n-grams (in `template_items` or more items of one benchmark) are dropped from the
    merged table once, here, so a lookup is one `searchsorted` per window length however many
    benchmarks are configured. The merged table is a copy in this process's memory (the
    per-benchmark arrays stay memory-mapped); it holds only the non-template grams.
    """

    def __init__(self, indexes: list[BenchmarkIndex], template_items: int) -> None:
        import numpy as np

        self.indexes = indexes
        self.template: list[Any] = []
        hashes, owners, self.base = [], [], []
        total_units = 0
        for index in indexes:
            table = index.table
            items = index.unit_item[table.owners] if len(table.owners) else np.empty(0, dtype=np.int32)
            pairs = np.unique(np.stack([table.hashes, items.astype(np.uint64)]), axis=1) if len(items) else \
                np.empty((2, 0), dtype=np.uint64)
            values, counts = np.unique(pairs[0], return_counts=True)
            template = values[counts >= template_items]
            self.template.append(template)
            keep = ~np.isin(table.hashes, template)
            hashes.append(table.hashes[keep])
            owners.append(table.owners[keep].astype(np.int64) + total_units)
            self.base.append(total_units)
            total_units += len(index.units)
        merged = np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64)
        merged_owners = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
        order = np.argsort(merged, kind="stable")
        self.hashes, self.owners = merged[order], merged_owners[order]
        self.lengths = sorted({size for index in indexes for size in index.table.lengths})
        self.whole_lengths = {size for index in indexes for size in index.table.whole_lengths}
        self._units: dict[int, UnitGrams] = {}

    def locate(self, unit: int) -> tuple[int, int]:
        """(index number, unit number within it) of a merged unit number."""
        import bisect

        number = bisect.bisect_right(self.base, unit) - 1
        return number, unit - self.base[number]

    def hits(self, windows: Any) -> tuple[Any, Any, Any]:
        """(window positions found, their first and past-last rows in the merged table)."""
        import numpy as np

        if not len(self.hashes) or not len(windows):
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        low = np.searchsorted(self.hashes, windows, side="left")
        inside = low < len(self.hashes)
        found = np.zeros(len(windows), dtype=bool)
        found[inside] = self.hashes[low[inside]] == windows[inside]
        positions = np.flatnonzero(found)
        high = np.searchsorted(self.hashes, windows[positions], side="right")
        return positions, low[positions], high

    def shared_positions(self, message: MessageGrams) -> dict[int, list[int]]:
        """merged unit -> start positions of the message's windows that the unit also has.

        Very short units are whole-unit grams, looked up only with the whole message.
        """
        found: dict[int, list[int]] = {}
        sizes = list(self.lengths)
        if len(message.words) in self.whole_lengths:
            sizes.append(len(message.words))
        for size in sizes:
            positions, low, high = self.hits(message.windows(size))
            for position, lo, hi in zip(positions.tolist(), low.tolist(), high.tolist(), strict=True):
                for owner in self.owners[lo:hi].tolist():
                    found.setdefault(owner, []).append(position)
        return found

    def unit_windows(self, unit: int) -> UnitGrams:
        """A merged unit's index and local number, gram hashes, gram length, whether it is a
        whole-unit gram, mask of its non-template grams and the words those cover."""
        cached = self._units.get(unit)
        if cached is None:
            import numpy as np

            number, local = self.locate(unit)
            index = self.indexes[number]
            grams, size, whole = unit_grams(index.units[local].text, index.ngram, index.min_words)
            specific = ~np.isin(grams, self.template[number])
            unit_words = covered_words(np.flatnonzero(specific).tolist(), size)
            cached = UnitGrams(number, local, grams, size, whole, specific, unit_words)
            if len(self._units) > 4096:
                self._units.clear()
            self._units[unit] = cached
        return cached

    def find(self, message: MessageGrams) -> list[Overlap]:
        """Every unit sharing a non-template n-gram with the message, best coverage first."""
        import numpy as np

        if not message.words:
            return []
        results = []
        for unit, positions in self.shared_positions(message).items():
            number, local, grams, size, whole, specific, unit_words = self.unit_windows(unit)
            index = self.indexes[number]
            if whole and len(message.words) != size:
                continue
            shared = np.isin(grams, message.windows(size)) & specific
            shared_words = covered_words(np.flatnonzero(shared).tolist(), size)
            first, last = longest_run(sorted(set(positions)))
            results.append(Overlap(
                benchmark=index.name,
                title=index.title,
                item=index.units[local].item,
                field=index.units[local].field,
                coverage=shared_words / unit_words if unit_words else 0.0,
                shared_words=shared_words,
                unit_words=unit_words,
                words=(first, last + size - 1),
                gram=size,
                whole=whole,
            ))
        results.sort(key=lambda o: (-o.coverage, -o.shared_words, o.benchmark, o.item))
        return results


def quote(text: str, span: tuple[int, int]) -> str:
    """The span as one line, its middle words elided when it is long."""
    snippet = re.sub(r"\s+", " ", text[span[0]:span[1]]).strip()
    if len(snippet) <= QUOTE_CHARS:
        return snippet
    head = snippet[:QUOTE_CHARS * 2 // 3].rsplit(" ", 1)[0]
    tail = snippet[-(QUOTE_CHARS // 3):].split(" ", 1)[-1]
    return f"{head} … {tail}"
