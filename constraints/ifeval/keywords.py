"""keywords:* — keyword presence, keyword frequency, forbidden words, letter frequency."""

from __future__ import annotations

import re

from pydantic import Field

from constraints.params import (
    Count,
    Letter,
    Params,
    Pattern,
    PatternList,
    Relation,
    times,
)
from constraints.regex import compiled
from constraints.registry import Finding, compare, register_checker
from constraints.text import Text


class ExistenceParams(Params):
    keywords: PatternList = Field(description="keywords that must all appear (regexes, case-insensitive)")


@register_checker(
    "keywords:existence",
    "Every keyword appears somewhere in the response (case-insensitive regex search).",
    ExistenceParams,
)
def existence(text: Text, params: ExistenceParams) -> Finding:
    missing = [k for k in sorted(params.keywords) if not compiled(k, re.IGNORECASE).search(text.value)]
    if missing:
        listed = ", ".join(repr(k) for k in missing)
        return Finding(False, f"missing {len(missing)} of {len(params.keywords)} keywords: {listed}")
    return Finding(
        True, "the keyword is present" if len(params.keywords) == 1 else f"all {len(params.keywords)} keywords present"
    )


class FrequencyParams(Params):
    keyword: Pattern = Field(description="the keyword (regex, case-insensitive; surrounding spaces ignored)")
    frequency: Count = Field(description="the threshold")
    relation: Relation = Field(description="'less than' or 'at least'")


@register_checker(
    "keywords:frequency",
    "The keyword occurs less than / at least N times (case-insensitive regex matches).",
    FrequencyParams,
)
def frequency(text: Text, params: FrequencyParams) -> Finding:
    keyword = params.keyword.strip()
    count = len(compiled(keyword, re.IGNORECASE).findall(text.value))
    return compare(count, params.relation, params.frequency, f"{keyword!r} appears {times(count)}")


class ForbiddenParams(Params):
    forbidden_words: PatternList = Field(description="words that must not appear as whole words (case-insensitive)")


@register_checker(
    "keywords:forbidden_words",
    "None of the forbidden words appears as a whole word (\\b-delimited, case-insensitive).",
    ForbiddenParams,
)
def forbidden_words(text: Text, params: ForbiddenParams) -> Finding:
    found = []
    for word in sorted(set(params.forbidden_words)):
        match = compiled(r"\b" + word + r"\b", re.IGNORECASE).search(text.value)
        if match:
            found.append(f"{word!r} at character {match.start() + 1}")
    if found:
        return Finding(False, "forbidden word used: " + ", ".join(found))
    return Finding(True, f"none of the {len(set(params.forbidden_words))} forbidden words used")


class LetterParams(Params):
    letter: Letter = Field(description="one character, counted case-insensitively")
    let_frequency: Count = Field(description="the threshold")
    let_relation: Relation = Field(description="'less than' or 'at least'")


@register_checker(
    "keywords:letter_frequency",
    "The letter occurs less than / at least N times, case-insensitively (any character is kept as given).",
    LetterParams,
)
def letter_frequency(text: Text, params: LetterParams) -> Finding:
    letter = params.letter.lower()
    count = text.lower.count(letter)
    return compare(count, params.let_relation, params.let_frequency, f"letter {letter!r} appears {times(count)}")
