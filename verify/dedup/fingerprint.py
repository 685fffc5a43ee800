"""A row's dedup fingerprint: an exact key, a MinHash signature and its LSH band keys.

Pure functions of (record, settings), so any engine can compute fingerprints in parallel
(worker processes, Ray tasks) and hand them, in input order, to the one place that keeps the
index (`verify.dedup.index.DedupIndex`).

- Exact key: blake2b-128 of the selected turns, each as `role` + its text folded (NFKC,
  case-folded, whitespace collapsed). Two rows with the same key are exact duplicates.
- Near key: a MinHash over word shingles (k consecutive words; a `<role>` marker word starts
  each turn so that a prompt and a response never merge), computed with datasketch. A shingle
  enters the MinHash as 32 bits of its polynomial word-window hash (`verify.dedup.ngrams`)
  rather than as text for datasketch's default SHA-1: the same set semantics at a fraction of
  the cost. Only the low 16 bits of each of the `num_perm` MinHash values are kept for
  comparison (b-bit MinHash): half the disk of 32 bits; two different values agree by chance
  with probability 2^-16, which `similarity` corrects for.
- Band keys: the full 32-bit values cut into `bands` bands of `rows` values, each band hashed
  to a signed 64-bit integer (SQLite's INTEGER). Rows sharing a band key are candidates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from verify.dedup.ngrams import MULTIPLIER
from verify.dedup.text import TOKENIZER_VERSION, normalise_for_exact, words
from verify.records import Record, message_text

if TYPE_CHECKING:
    import numpy as np

Turns = Literal["all", "last", "prompt", "response"]
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"
SIGNATURE_BITS = 16
BAND_RECALL_TARGET = 0.95


@dataclass(frozen=True)
class Fingerprint:
    exact: bytes
    signature: bytes  # num_perm little-endian uint16
    bands: tuple[int, ...]


def selected_turns(record: Record, turns: Turns, include_system: bool) -> list[tuple[str, str]]:
    """(role, text) of the turns that define a row's identity for dedup.

    - all: every message (system messages only with `include_system`, because a system
      prompt shared by a whole file would make unrelated rows look alike);
    - last: the last user message and the response;
    - prompt: the last user message; response: the response.
    """
    if turns == "all":
        return [
            (str(message.get("role")), message_text(message))
            for message in record.messages
            if include_system or message.get("role") != "system"
        ]
    if turns == "last":
        return [("user", record.prompt), ("assistant", record.response)]
    if turns == "prompt":
        return [("user", record.prompt)]
    return [("assistant", record.response)]


def exact_key(turns: list[tuple[str, str]]) -> bytes | None:
    """The exact-duplicate key, or None when the selected turns hold no text at all."""
    parts = [(role, normalise_for_exact(text)) for role, text in turns]
    if not any(text for _, text in parts):
        return None
    joined = "\x1e".join(f"{role}\x1f{text}" for role, text in parts)
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).digest()


def word_stream(turns: list[tuple[str, str]]) -> list[str]:
    """The words of the selected turns, each turn introduced by a `<role>` marker word."""
    stream: list[str] = []
    for role, text in turns:
        stream.append(f"<{role}>")
        stream.extend(words(text))
    return stream


def shingle_hashes(stream: list[str], size: int) -> list[int]:
    """32-bit hashes of every run of `size` consecutive words (the whole stream when shorter)."""
    from verify.dedup.ngrams import window_hashes, word_hashes

    windows = window_hashes(word_hashes(stream), min(size, len(stream)))
    return (windows >> 32).tolist()


def band_layout(threshold: float, num_perm: int, target: float = BAND_RECALL_TARGET) -> tuple[int, int]:
    """(bands, rows per band): the fewest bands that make a pair at exactly `threshold`
    similarity a candidate with probability >= `target` (0.95: on bench/dedup_recall.py, 0.99
    found 6 more of 6,307 planted copies for 31% more index entries).

    Candidates are then confirmed on the whole signature, so recall is bought here and
    precision there: a pair at similarity s is a candidate with probability
    1 - (1 - s^rows)^bands.
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= target:
            return bands, rows
    return num_perm, 1


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two 16-bit signatures (chance agreement removed)."""
    import numpy as np

    left = np.frombuffer(a, dtype="<u2")
    right = np.frombuffer(b, dtype="<u2")
    agree = float(np.count_nonzero(left == right)) / len(left)
    chance = 2.0**-SIGNATURE_BITS
    return max(0.0, (agree - chance) / (1.0 - chance))


class Fingerprinter:
    """Computes fingerprints for one configuration (MinHash permutations built once)."""

    def __init__(self, turns: Turns, include_system: bool, shingle_words: int, num_perm: int,
                 threshold: float) -> None:
        self.turns = turns
        self.include_system = include_system
        self.shingle_words = shingle_words
        self.num_perm = num_perm
        self.bands, self.rows = band_layout(threshold, num_perm)

    @cached_property
    def _minhash(self) -> Any:
        from datasketch import MinHash  # imported here: datasketch pulls in scipy (~0.7 s)

        return MinHash(num_perm=self.num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME, hashfunc=_identity)

    def layout(self) -> dict[str, Any]:
        """Everything that must match for two fingerprints to be comparable (kept with the state)."""
        return {
            "turns": self.turns,
            "include_system": self.include_system,
            "shingle_words": self.shingle_words,
            "num_perm": self.num_perm,
            "bands": self.bands,
            "rows": self.rows,
            "seed": MINHASH_SEED,
            "scheme": MINHASH_SCHEME,
            "tokenizer": TOKENIZER_VERSION,
        }

    def fingerprint(self, record: Record) -> Fingerprint | None:
        """The row's fingerprint, or None when its selected turns hold no text."""
        turns = selected_turns(record, self.turns, self.include_system)
        key = exact_key(turns)
        if key is None:
            return None
        stream = word_stream(turns)
        minhash = self._minhash
        minhash.clear()  # one MinHash reused: copying one re-validates its permutations every time
        minhash.update_batch(shingle_hashes(stream, self.shingle_words))
        values = minhash.hashvalues
        return Fingerprint(key, self._signature(values), self._band_keys(values))

    @staticmethod
    def _signature(values: np.ndarray) -> bytes:
        return (values & 0xFFFF).astype("<u2").tobytes()

    def _band_keys(self, values: np.ndarray) -> tuple[int, ...]:
        """One signed 64-bit key per band: a polynomial hash of its values, started from the band's number."""
        import numpy as np

        used = values[:self.bands * self.rows].astype(np.uint64).reshape(self.bands, self.rows)
        multiplier = np.uint64(MULTIPLIER)
        keys = np.arange(1, self.bands + 1, dtype=np.uint64)
        for column in range(self.rows):
            keys = keys * multiplier + used[:, column]
        return tuple(keys.view(np.int64).tolist())


def _identity(value: int) -> int:
    """datasketch's hashfunc for inputs that are already hashes."""
    return value
