"""length_constraints:* — sentences, paragraphs, words, and the first word of paragraph n."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from constraints.params import Count, NonBlank, Params, Relation, plural
from constraints.registry import Finding, compare, register_checker
from constraints.text import Text

PARAGRAPH_DIVIDER = re.compile(r"\s?\*\*\*\s?")
FIRST_WORD_STOPS = frozenset(".,?!'\"")


class SentencesParams(Params):
    num_sentences: Count = Field(description="the threshold")
    relation: Relation = Field(description="'less than' or 'at least'")


@register_checker(
    "length_constraints:number_sentences",
    "Less than / at least N sentences, as nltk's English punkt model splits them.",
    SentencesParams,
)
def number_sentences(text: Text, params: SentencesParams) -> Finding:
    bound = text.sentence_bound
    if bound < params.num_sentences:  # decided without running punkt
        marks = plural(bound - 1, "sentence-ending mark")
        return compare(bound, params.relation, params.num_sentences, f"at most {plural(bound, 'sentence')} ({marks})")
    count = len(text.sentences)
    return compare(count, params.relation, params.num_sentences, plural(count, "sentence"))


class ParagraphsParams(Params):
    num_paragraphs: Count = Field(description="the exact number of paragraphs")


@register_checker(
    "length_constraints:number_paragraphs",
    "Exactly N paragraphs separated by the markdown divider *** (no empty paragraph between dividers).",
    ParagraphsParams,
    language_independent=True,
)
def number_paragraphs(text: Text, params: ParagraphsParams) -> Finding:
    paragraphs = PARAGRAPH_DIVIDER.split(text.value)
    count = len(paragraphs)
    last = len(paragraphs) - 1
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, last):
                count -= 1
            else:
                return Finding(False, f"paragraph {index + 1} between two *** dividers is empty")
    return Finding(
        count == params.num_paragraphs,
        f"{plural(count, 'paragraph')} separated by ***; exactly {params.num_paragraphs} required",
    )


class WordsParams(Params):
    num_words: Count = Field(description="the threshold")
    relation: Relation = Field(description="'less than' or 'at least'")


@register_checker(
    "length_constraints:number_words",
    "Less than / at least N words, a word being a run of \\w characters.",
    WordsParams,
)
def number_words(text: Text, params: WordsParams) -> Finding:
    count = text.word_count
    return compare(count, params.relation, params.num_words, plural(count, "word"))


class NthParagraphParams(Params):
    num_paragraphs: Count = Field(description="the exact number of paragraphs (separated by blank lines)")
    nth_paragraph: Count = Field(description="which paragraph (1-based) must start with first_word")
    first_word: NonBlank = Field(description="the required first word (compared lower-cased)")

    @model_validator(mode="after")
    def _nth_within(self) -> NthParagraphParams:
        if not 1 <= self.nth_paragraph <= self.num_paragraphs:
            raise ValueError(
                f"nth_paragraph must be between 1 and num_paragraphs ({self.num_paragraphs}), got {self.nth_paragraph}"
            )
        return self


@register_checker(
    "length_constraints:nth_paragraph_first_word",
    "Exactly N paragraphs separated by blank lines (\\n\\n), and paragraph n starts with the given word.",
    NthParagraphParams,
)
def nth_paragraph_first_word(text: Text, params: NthParagraphParams) -> Finding:
    paragraphs = text.value.split("\n\n")
    count = sum(1 for paragraph in paragraphs if paragraph.strip())
    wanted = params.first_word.lower()
    nth = params.nth_paragraph
    counted = f"{plural(count, 'paragraph')} separated by blank lines; exactly {params.num_paragraphs} required"
    if nth > count:
        return Finding(False, f"{counted}; there is no paragraph {nth} to start with {wanted!r}")
    # The reference indexes the raw split, blank pieces included.
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return Finding(False, f"paragraph {nth} is empty (two blank lines in a row); it must start with {wanted!r}")
    first = _first_word(paragraph)
    if first != wanted:
        return Finding(False, f"paragraph {nth} starts with {first!r}; required {wanted!r}")
    return Finding(count == params.num_paragraphs, f"{counted}; paragraph {nth} starts with {wanted!r}")


def _first_word(paragraph: str) -> str:
    """The reference's first word: leading quotes dropped, cut at the first . , ? ! ' or "."""
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    letters = []
    for char in word:
        if char in FIRST_WORD_STOPS:
            break
        letters.append(char.lower())
    return "".join(letters)
