"""Sentence splitting and word tokenisation, as the IFEval reference does them, with caches.

The reference counts sentences with nltk's English punkt model and counts capital words over
`nltk.word_tokenize`, which is the same punkt split followed by nltk's Treebank-style word
tokenizer on each sentence. We call the same nltk objects (so the answers are nltk's), but
tokenise each distinct sentence once: the loose mode re-checks up to 8 variants of a response
that share most of their sentences, and one response often carries several instructions.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from constraints.punkt import require

_MEMO_LIMIT = 50_000
# The characters after which punkt may end a sentence (nltk's PunktLanguageVars.sent_end_chars).
SENTENCE_END_CHARS = (".", "?", "!")
_capital_counts: dict[str, int] = {}


@lru_cache(maxsize=1)
def _sentence_tokenizer() -> Any:
    require()  # raises PunktMissing, whose message says to run `verify data punkt`
    from nltk.tokenize.punkt import PunktTokenizer

    class MemoPunktTokenizer(PunktTokenizer):
        """nltk's English punkt, remembering its decision for each candidate break.

        Punkt decides whether a candidate ('word. Next') is a sentence break from that
        context string alone (tokens, abbreviation and orthographic statistics of the fixed
        model), so the decision is a pure function of the string and can be memoised; the
        loose variants of one response repeat nearly all of its candidates.
        """

        def __init__(self) -> None:
            super().__init__("english")
            self._decisions: dict[str, bool] = {}

        def text_contains_sentbreak(self, text: str) -> bool:
            decision = self._decisions.get(text)
            if decision is None:
                decision = super().text_contains_sentbreak(text)
                if len(self._decisions) >= _MEMO_LIMIT:
                    self._decisions.clear()
                self._decisions[text] = decision
            return decision

    return MemoPunktTokenizer()


@lru_cache(maxsize=1)
def _word_tokenizer() -> Any:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def split_sentences(text: str) -> list[str]:
    """nltk's English punkt sentences of `text` (what `nltk.sent_tokenize` returns)."""
    return _sentence_tokenizer().tokenize(text)


def count_capital_words(sentences: list[str]) -> int:
    """How many `nltk.word_tokenize` tokens are upper case (`str.isupper`), per sentence memo."""
    total = 0
    memo = _capital_counts
    for sentence in sentences:
        count = memo.get(sentence)
        if count is None:
            count = sum(1 for token in _word_tokenizer().tokenize(sentence) if token.isupper())
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[sentence] = count
        total += count
    return total
