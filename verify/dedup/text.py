"""Text as dedup and decontam see it: Unicode-normalised, case-folded words.

Both checks compare word sequences, not raw strings, so that case, spacing, punctuation and
Unicode variants (full-width letters, ligatures, curly apostrophes) never hide a copy. One
tokenizer serves both, so a benchmark item and a training row are cut into words the same way.

A word is a run of letters or digits, where one of ' ’ . , - / & : _ between two such runs
joins them and is dropped: "don't" and "dont", "80,000" and "80000", "one-third" and
"onethird", "1/3" and "13", "M&Ms" and "MMs" are the same word, as they are once someone strips
the punctuation out of a text (lm-eval's decontamination deletes all of it). Each CJK ideograph
or kana is a word of its own, because those scripts do not separate words with spaces.
"""

from __future__ import annotations

import re
import unicodedata

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
JOINING = "'\u2019.,-/&:_"
WORD = re.compile(rf"[{CJK}]|[^\W_{CJK}]+(?:[{re.escape(JOINING)}][^\W_{CJK}]+)*")
JOINERS = str.maketrans("", "", JOINING)
SPACE = re.compile(r"\s+")
TOKENIZER_VERSION = "1"  # bump when `words` can cut a text differently (stored in index metadata)


def fold(text: str) -> str:
    """NFKC + case-folding: the form in which two strings count as the same."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_for_exact(text: str) -> str:
    """Text for the exact-duplicate key: folded, runs of whitespace collapsed, ends stripped.

    Punctuation is kept: two rows that differ only in punctuation are near-duplicates (their
    words are identical), not exact ones.
    """
    return SPACE.sub(" ", fold(text)).strip()


def words(text: str) -> list[str]:
    """The folded words of `text`."""
    if text.isascii():  # NFKC changes nothing in ASCII and casefold is lower: fold once, not per word
        return [word if word.isalnum() else word.translate(JOINERS) for word in WORD.findall(text.lower())]
    return [fold(word).translate(JOINERS) for word in WORD.findall(text)]


def word_offsets(text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each word of `words(text)`, in the same order."""
    searched = text.lower() if text.isascii() else text  # lower() keeps ASCII offsets
    return [match.span() for match in WORD.finditer(searched)]
