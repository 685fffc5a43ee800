"""Word n-gram hashes: each window of n consecutive words becomes one 64-bit number.

Shared by dedup (its MinHash shingles) and decontam (its benchmark n-grams). A word is hashed
once (blake2b, stable across processes and machines, unlike Python's `hash`), then windows are
combined with a polynomial hash in numpy's wrapping uint64 arithmetic, so a text of m words
costs n vector operations instead of m string joins and m cryptographic hashes. Two different
windows collide with probability about 2^-64 per pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

MULTIPLIER = 0x9E3779B97F4A7C15
CACHE_LIMIT = 1 << 20  # words whose hash is remembered (about 100 MB at most), then forgotten

_cache: dict[str, int] = {}


def word_hash(word: str) -> int:
    value = _cache.get(word)
    if value is None:
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        _cache[word] = value
    return value


def word_hashes(tokens: Sequence[str]) -> Any:
    """uint64 array: the hash of each word."""
    import numpy as np

    get = _cache.get
    values = [get(token) or word_hash(token) for token in tokens]
    return np.array(values, dtype=np.uint64)


def window_hashes(hashed: Any, n: int) -> Any:
    """uint64 array: the hash of every window of `n` consecutive words (empty when fewer words)."""
    import numpy as np

    count = len(hashed) - n + 1
    if n <= 0 or count <= 0:
        return np.empty(0, dtype=np.uint64)
    multiplier = np.uint64(MULTIPLIER)
    out = hashed[:count].copy()
    for k in range(1, n):
        out *= multiplier
        out += hashed[k:k + count]
    return out
