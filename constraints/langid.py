"""langdetect with `DetectorFactory.seed = 0`, computed faster, giving the same answers.

The IFEval reference calls `langdetect.detect(text)` for three instructions; unseeded it is
random (36 verdicts of the shared corpus flip between seeds), so the reference verdicts are
taken with seed 0 and so are ours. langdetect is pure Python and was the largest single
cost of the reference (about 3.5 ms per call here): a per-character n-gram state machine, then
7 random-sampling trials that each multiply a 55-language probability vector, one n-gram
at a time, until it converges.

This module replays exactly that computation with the same profiles, the same `random.Random`
stream and the same floating-point operations in the same order:
- n-grams are extracted with array operations over the text's code points and looked up
  among the profiles' n-grams by binary search (`_ngram_rows` states the buffer rule);
- each n-gram's language-probability row is copied once into a numpy matrix;
- the vector update `prob[i] *= weight + p[i]` runs as numpy element-wise operations (IEEE
  identical to the Python loop); between two convergence checks the five updates are applied
  with one `np.multiply.reduce` down the rows, which multiplies them in the same order;
- normalisation sums with Python's built-in `sum` over a list, as langdetect does, so even
  the interpreter's summation rule is the same;
- the random draws are decoded in bulk from the generator's raw 32-bit outputs (`_Stream`),
  which is checked against `random.Random` once per process;
- `detect` (the label only) stops running trials once the leading language cannot be
  overtaken by the remaining ones; `probabilities` always runs all 7.
`tests/test_constraints_langid.py` checks labels and probabilities against langdetect itself.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

SEED = 0
UNDETECTABLE = None  # langdetect raised "No features in text"
UNKNOWN = "unknown"  # langdetect's answer when no language scores above its threshold


class _Profiles:
    """langdetect's loaded profiles, indexed for array look-ups.

    Every profile n-gram gets an integer key (its code points packed 21 bits each, so keys of
    different lengths never collide) kept sorted for `searchsorted`; its probability row is
    copied into `matrix` the first time a text uses it (the matrix is allocated zeroed, so
    untouched rows cost no memory).
    """

    def __init__(self) -> None:
        import numpy as np
        from langdetect import detector_factory
        from langdetect.detector import Detector
        from langdetect.utils.ngram import NGram
        from langdetect.utils.unicode_block import unicode_block

        detector_factory.init_factory()
        factory = detector_factory._factory
        self.np = np
        self.word_probs: dict[str, list[float]] = factory.word_lang_prob_map
        self.languages: list[str] = list(factory.langlist)
        self.url = Detector.URL_RE
        self.mail = Detector.MAIL_RE
        self.normalize_vi = NGram.normalize_vi
        self.normalize_char = NGram.normalize
        self.alpha = Detector.ALPHA_DEFAULT
        self.alpha_width = Detector.ALPHA_WIDTH
        self.iteration_limit = Detector.ITERATION_LIMIT
        self.prob_threshold = Detector.PROB_THRESHOLD
        self.conv_threshold = Detector.CONV_THRESHOLD
        self.base_freq = Detector.BASE_FREQ
        self.n_trial = 7
        self.max_text_length = 10000
        grams = list(self.word_probs)
        keys = np.array([_key(gram) for gram in grams], dtype=np.int64)
        order = np.argsort(keys)
        self.keys = keys[order]
        self.grams = [grams[position] for position in order.tolist()]
        self.matrix = np.zeros((len(grams), len(self.languages)))
        self.filled = np.zeros(len(grams), dtype=bool)
        self.normalized: dict[int, str] = {}  # str.translate table: code point -> normalised char
        self.seen: set[str] = set()
        # str.translate table: normalised character -> "\x01" if it is upper case, else "\x00"
        self.upper_flags: dict[int, str] = {ord(" "): "\x00"}
        # langdetect means to leave the Latin Extended Additional block out of its non-Latin
        # count, but compares a block id with a name, so it never does; follow what it does.
        self.skips_latin_extended_additional = unicode_block("\u1e00") == "Latin Extended Additional"

    def learn_chars(self, text: str) -> None:
        """Extend the translation table with langdetect's normalisation of unseen characters."""
        for char in set(text).difference(self.seen):
            self.seen.add(char)
            normalized = self.normalize_char(char)
            if normalized != char:
                self.normalized[ord(char)] = normalized
            self.upper_flags[ord(normalized)] = "\x01" if normalized.isupper() else "\x00"

    def fill(self, rows: Any) -> None:
        """Copy the probability rows of these n-grams from langdetect's map, once each."""
        missing = rows[~self.filled[rows]]
        for row in set(missing.tolist()):
            self.matrix[row] = self.word_probs[self.grams[row]]
        self.filled[missing] = True


_PROFILES: _Profiles | None = None
_SPACES = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")  # langdetect's 'A' <= ch <= 'z', which includes [ \\ ] ^ _ `


def _key(gram: str) -> int:
    """An n-gram's code points packed 21 bits each (1-, 2- and 3-grams never collide)."""
    key = 0
    for char in gram:
        key = (key << 21) | ord(char)
    return key


def _profiles() -> _Profiles:
    global _PROFILES
    if _PROFILES is None:
        _PROFILES = _Profiles()
    return _PROFILES


def _prepare(profiles: _Profiles, text: str) -> str:
    """langdetect's `Detector.append` and `cleaning_text`, with string and array operations."""
    np = profiles.np
    text = profiles.url.sub(" ", text)
    text = profiles.mail.sub(" ", text)
    text = profiles.normalize_vi(text)
    # append(): keep the first max_text_length characters, dropping each space that follows a space.
    text = _SPACES.sub(" ", text[: profiles.max_text_length])
    # cleaning_text(): drop 'A'..'z' when under a third of the letters counted are Latin.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    latin = int(np.count_nonzero((codes >= 0x41) & (codes <= 0x7A)))
    non_latin = int(np.count_nonzero(codes >= 0x300))
    if profiles.skips_latin_extended_additional:
        non_latin -= int(np.count_nonzero((codes >= 0x1E00) & (codes <= 0x1EFF)))
    if latin * 2 < non_latin:
        text = _LATIN.sub("", text)
    return text


def _ngram_rows(profiles: _Profiles, text: str) -> Any:
    """The profile rows of the n-grams langdetect's `_extract_ngrams` returns, in its order.

    langdetect feeds normalised characters through a 3-character buffer that starts as ' '
    and that a space following a space resets. With T = ' ' + text, at each position i >= 1
    it emits, unless T[i] and T[i-1] are both spaces or both upper case ("capital word"):
    the 1-gram T[i] (not a space), the 2-gram T[i-1:i+1], and the 3-gram T[i-2:i+1] when
    T[i-1] is not a space; those in the profiles are kept, 1-, 2-, 3-gram at each position.
    """
    np = profiles.np
    profiles.learn_chars(text)
    normalized = " " + text.translate(profiles.normalized)
    if len(normalized) < 2:
        return np.empty(0, dtype=np.intp)
    codes = np.frombuffer(normalized.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    upper = np.frombuffer(normalized.translate(profiles.upper_flags).encode("utf-32-le"), dtype="<u4") == 1
    space = codes == 32
    current, previous = codes[1:], codes[:-1]
    active = ~(space[1:] & space[:-1]) & ~(upper[1:] & upper[:-1])
    before = np.concatenate(([0], codes[:-2]))  # T[i-2], a zero key part at i = 1
    keys = np.empty((len(current), 3), dtype=np.int64)
    keys[:, 0] = current
    keys[:, 1] = (previous << 21) | current
    keys[:, 2] = (before << 42) | (previous << 21) | current
    valid = np.empty((len(current), 3), dtype=bool)
    valid[:, 0] = active & ~space[1:]
    valid[:, 1] = active
    valid[:, 2] = active & ~space[:-1]
    valid[0, 2] = False
    keys = keys[valid]
    positions = np.searchsorted(profiles.keys, keys)
    positions[positions == len(profiles.keys)] = 0
    rows = positions[profiles.keys[positions] == keys]
    profiles.fill(rows)
    return rows


class _Stream:
    """The draws `random.Random(seed)` makes for langdetect, replayed from raw generator words.

    langdetect calls `gauss()` once per trial and `choice(ngrams)` once per update. Both
    consume 32-bit Mersenne Twister outputs: `choice` over n items takes the top
    `n.bit_length()` bits of one output and rejects values >= n; `random()` takes two outputs;
    `gauss()` calls `random()` twice every other time (it caches its second value). Fetching
    the outputs in bulk with `getrandbits(32 * m)` and decoding them with numpy gives the
    same numbers without a Python call per draw; `_stream_is_exact()` checks this against
    `random.Random` itself once per process, and `_Methods` is used if it ever differs.
    """

    def __init__(self, np: Any, seed: int, count: int) -> None:
        self.np = np
        self.generator = random.Random(seed)
        self.words = np.empty(0, dtype=np.uint32)
        self.position = 0
        self.count = count
        self.shift = 32 - count.bit_length()
        self.gauss_next: float | None = None

    def _ensure(self, needed: int) -> None:
        np = self.np
        while len(self.words) - self.position < needed:
            extra = max(4096, needed)
            fresh = np.frombuffer(self.generator.getrandbits(32 * extra).to_bytes(4 * extra, "little"), dtype="<u4")
            self.words = np.concatenate((self.words[self.position :], fresh))
            self.position = 0

    def gauss(self) -> float:
        z = self.gauss_next
        self.gauss_next = None
        if z is None:
            self._ensure(4)
            a, b, c, d = (int(word) for word in self.words[self.position : self.position + 4])
            self.position += 4
            first = ((a >> 5) * 67108864.0 + (b >> 6)) * (1.0 / 9007199254740992.0)
            second = ((c >> 5) * 67108864.0 + (d >> 6)) * (1.0 / 9007199254740992.0)
            x2pi = first * (2.0 * math.pi)
            g2rad = math.sqrt(-2.0 * math.log(1.0 - second))
            z = math.cos(x2pi) * g2rad
            self.gauss_next = math.sin(x2pi) * g2rad
        return 0.0 + z * 1.0

    def peek(self, draws: int) -> tuple[Any, Any]:
        """The next `draws` choices (values in [0, count)) and the word index after each."""
        np = self.np
        window = 2 * draws + 64
        while True:
            self._ensure(window)
            values = self.words[self.position : self.position + window] >> self.shift
            accepted = np.flatnonzero(values < self.count)
            if len(accepted) >= draws:
                return values[accepted[:draws]], accepted[:draws] + 1
            window *= 2

    def consume(self, ends: Any, used: int) -> None:
        self.position += int(ends[used - 1])


class _Methods:
    """The same draws through `random.Random`'s own methods (the fallback)."""

    def __init__(self, np: Any, seed: int, count: int) -> None:
        self.np = np
        self.generator = random.Random()
        self.generator.seed(seed)
        self.choices = range(count)
        self.state: Any = None

    def gauss(self) -> float:
        return self.generator.gauss(0.0, 1.0)

    def peek(self, draws: int) -> tuple[Any, Any]:
        self.state = self.generator.getstate()
        values = [self.generator.choice(self.choices) for _ in range(draws)]
        self.generator.setstate(self.state)
        return self.np.array(values, dtype=self.np.int64), None

    def consume(self, ends: Any, used: int) -> None:
        for _ in range(used):
            self.generator.choice(self.choices)


def _stream_is_exact(np: Any) -> bool:
    """Replay a langdetect-like schedule both ways; the fast path is used only if they agree."""
    for count in (1, 7, 1234, 40000):
        reference = random.Random()
        reference.seed(SEED)
        stream = _Stream(np, SEED, count)
        for draws in (1, 11, 6, 1001, 16, 3, 200):
            if reference.gauss(0.0, 1.0) != stream.gauss():
                return False
            expected = [reference.choice(range(count)) for _ in range(draws)]
            values, ends = stream.peek(draws + 5)
            if values[:draws].tolist() != expected:
                return False
            stream.consume(ends, draws)
    return True


_FAST_STREAM: bool | None = None
FIRST_CHUNK = 1 + 5 * 40  # draws peeked for a trial; most converge well before 40 checks


def _draws_for(np: Any, count: int, seed: int) -> _Stream | _Methods:
    global _FAST_STREAM
    if _FAST_STREAM is None:
        _FAST_STREAM = _stream_is_exact(np)
    return _Stream(np, seed, count) if _FAST_STREAM else _Methods(np, seed, count)


def _run_trials(text: str, seed: int, stop_when_decided: bool) -> Any:
    """langdetect's `_detect_block`: the averaged language probabilities, or None (no features).

    With `stop_when_decided`, trials stop as soon as the leading language can no longer be
    overtaken: each remaining trial adds at most 1/7 to any language, so a lead larger than
    the remaining trials' share fixes the label `detect` returns (not the probabilities).
    """
    profiles = _profiles()
    np = profiles.np
    rows = _ngram_rows(profiles, _prepare(profiles, text))
    if not len(rows):
        return None
    draws = _draws_for(np, len(rows), seed)
    languages = len(profiles.languages)
    trials = profiles.n_trial
    total = np.zeros(languages)
    for trial in range(trials):
        weight = (profiles.alpha + draws.gauss() * profiles.alpha_width) / profiles.base_freq
        chunk = FIRST_CHUNK
        while True:
            values, ends = draws.peek(chunk)
            # The factor each update multiplies by, in draw order: weight + p(ngram | language).
            factors = weight + profiles.matrix[rows[values]]
            outcome = _trial(np.full(languages, 1.0 / languages), factors, profiles)
            if outcome is not None:
                break
            chunk = 1 + profiles.iteration_limit + 5
        prob, used = outcome
        draws.consume(ends, used)
        total += prob / trials
        if stop_when_decided and trial + 1 < trials:
            first, second = np.partition(total, languages - 2)[-2:][::-1]
            if first - second > (trials - trial - 1) / trials + 1e-9:
                break
    return total


def _trial(prob: Any, factors: Any, profiles: _Profiles) -> tuple[Any, int] | None:
    """One trial over the factors of the peeked draws: (probabilities, draws used), or None
    if it needs more draws than were peeked.

    langdetect normalises every fifth update (`prob[i] / sum(prob)`, `sum` being Python's
    built-in over the list) and stops once the largest share exceeds 0.99999. Here the
    division is written straight into row `used - 1` of `factors` (spent by then), and the
    next five updates are multiplied onto it left to right by one `np.multiply.reduce`.
    The largest share is max(p) / s (rounding is monotone, so it is the same float); it is
    only searched for when the last leader holds less than half: a leader with half or more
    is the maximum whenever any share can exceed 0.99999.
    """
    np = profiles.np
    prob = prob * factors[0]
    used = 1
    available = len(factors)
    threshold = profiles.conv_threshold
    limit = profiles.iteration_limit
    leader = 0
    while True:
        values = prob.tolist()
        total = sum(values)
        share = values[leader] / total
        if share < 0.5:
            largest = max(values)
            leader = values.index(largest)
            share = largest / total
        if share > threshold or used - 1 >= limit:
            return prob / total, used
        if used + 5 > available:
            return None
        np.divide(prob, total, out=factors[used - 1])
        prob = np.multiply.reduce(factors[used - 1 : used + 5], axis=0)
        used += 5


def probabilities(text: str, seed: int = SEED) -> list[tuple[str, float]] | None:
    """langdetect's `get_probabilities` (languages above 0.1, best first), or None when it
    would raise "No features in text"."""
    total = _run_trials(text, seed, stop_when_decided=False)
    if total is None:
        return UNDETECTABLE
    return _ranked(total)


language_probabilities = probabilities  # the name the package exports (constraints.language_probabilities)


def _ranked(total: Any) -> list[tuple[str, float]]:
    profiles = _profiles()
    ranked = [
        (lang, p) for lang, p in zip(profiles.languages, total.tolist(), strict=True) if p > profiles.prob_threshold
    ]
    ranked.sort(key=lambda item: item[1], reverse=True)
    return ranked


def detect(text: str, seed: int = SEED) -> str | None:
    """The language langdetect names for `text` with the given seed; None when it raises
    (no letters it knows), "unknown" when no language scores above 0.1."""
    total = _run_trials(text, seed, stop_when_decided=True)
    if total is None:
        return UNDETECTABLE
    ranked = _ranked(total)
    return ranked[0][0] if ranked else UNKNOWN


def supported_languages() -> list[str]:
    """The codes langdetect can return (its profile names, e.g. 'en', 'zh-cn')."""
    return sorted(_profiles().languages)
