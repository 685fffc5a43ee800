"""A response (or one loose variant of it) with its expensive facts computed once.

Several instructions of one record, and the strict and loose passes over it, ask the same
questions of the same text (how many words, which language, which sentences). `Text` answers
each at most once; `response_for` keeps the last few responses (with their loose variants),
so that checking a row in strict mode and then in loose mode tokenises it once.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import cached_property

WORD = re.compile(r"\w+")

# The loose variants in the reference's order, with how each was made.
LOOSE_VARIANTS = (
    "asterisks removed",
    "first line removed",
    "last line removed",
    "first and last lines removed",
    "first line removed, asterisks removed",
    "last line removed, asterisks removed",
    "first and last lines removed, asterisks removed",
)


class Text:
    """One string and lazily computed facts about it."""

    def __init__(self, value: str) -> None:
        self.value = value

    @cached_property
    def blank(self) -> bool:
        return not self.value.strip()

    @cached_property
    def lower(self) -> str:
        return self.value.lower()

    @cached_property
    def word_count(self) -> int:
        """IFEval's words: `\\w+` runs (nltk's RegexpTokenizer(r"\\w+"))."""
        return len(WORD.findall(self.value))

    @cached_property
    def sentences(self) -> list[str]:
        from constraints.sentences import split_sentences

        return split_sentences(self.value)

    @cached_property
    def sentence_bound(self) -> int:
        """An upper bound on `len(sentences)` that needs no punkt: one more than the number
        of sentence-ending characters, since punkt only breaks after one of them."""
        from constraints.sentences import SENTENCE_END_CHARS

        return sum(self.value.count(char) for char in SENTENCE_END_CHARS) + 1

    @cached_property
    def capital_word_count(self) -> int:
        from constraints.sentences import count_capital_words

        return count_capital_words(self.sentences)

    @cached_property
    def capital_word_bounds(self) -> tuple[int, int]:
        """(at least, at most) the number of all-capital tokens, without tokenising.

        Each whitespace-separated chunk that is itself upper case yields at least one token
        holding an upper-case letter and no lower-case one; and every all-capital token
        holds an upper-case letter of its own, so there are no more of them than such letters.
        """
        value = self.value
        return sum(map(str.isupper, value.split())), sum(map(str.isupper, value))

    @cached_property
    def language(self) -> str | None:
        """langdetect's label with seed 0; None when langdetect finds no features."""
        from constraints.langid import detect

        return detect(self.value)

    @cached_property
    def tulu_answer(self) -> Text:
        """What Tulu's verifier checks: the response after its `remove_thinking_section`."""
        answer = self.value.replace("<|assistant|>", "").strip()
        answer = answer.split("</think>")[-1]
        answer = answer.replace("<answer>", "").replace("</answer>", "").strip()
        return Text(answer) if answer != self.value else self


class Response:
    """A response under test and, on demand, its distinct loose variants."""

    def __init__(self, value: str) -> None:
        self.text = Text(value)

    @cached_property
    def loose_variants(self) -> list[tuple[str, Text]]:
        """The reference's 7 loose variants that differ from the response and are not blank.

        Loose mode passes an instruction when the response or any of these follows it, so
        duplicates (a response without asterisks, a one-line response) are checked once.
        """
        value = self.text.value
        lines = value.split("\n")
        first_removed = "\n".join(lines[1:]).strip()
        last_removed = "\n".join(lines[:-1]).strip()
        both_removed = "\n".join(lines[1:-1]).strip()
        candidates = (
            value.replace("*", ""),
            first_removed,
            last_removed,
            both_removed,
            first_removed.replace("*", ""),
            last_removed.replace("*", ""),
            both_removed.replace("*", ""),
        )
        seen = {value}
        variants = []
        for how, candidate in zip(LOOSE_VARIANTS, candidates, strict=True):
            if candidate in seen or not candidate.strip():
                continue
            seen.add(candidate)
            variants.append((how, Text(candidate)))
        return variants


_RECENT: OrderedDict[str, Response] = OrderedDict()
_RECENT_LIMIT = 8


def response_for(value: str) -> Response:
    """The `Response` for `value`, reused while it is among the last few asked for."""
    found = _RECENT.get(value)
    if found is not None:
        _RECENT.move_to_end(value)
        return found
    response = Response(value)
    _RECENT[value] = response
    if len(_RECENT) > _RECENT_LIMIT:
        _RECENT.popitem(last=False)
    return response
