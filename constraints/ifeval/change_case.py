"""change_case:* — capital-word frequency, all upper-case English, all lower-case English."""

from __future__ import annotations

from pydantic import Field

from constraints.ifeval.language import undetectable
from constraints.params import Count, NoParams, Params, Relation, plural
from constraints.registry import Finding, compare, register_checker
from constraints.text import Text


class CapitalParams(Params):
    capital_frequency: Count = Field(description="the threshold")
    capital_relation: Relation = Field(description="'less than' or 'at least'")


@register_checker(
    "change_case:capital_word_frequency",
    "Less than / at least N all-capital words among nltk.word_tokenize's tokens.",
    CapitalParams,
)
def capital_word_frequency(text: Text, params: CapitalParams) -> Finding:
    relation, threshold = params.capital_relation, params.capital_frequency
    at_least, at_most = text.capital_word_bounds
    if at_least >= threshold:  # decided without tokenising: either bound settles the relation
        return compare(at_least, relation, threshold, f"at least {plural(at_least, 'all-capital word')}")
    if at_most < threshold:
        return compare(at_most, relation, threshold, f"at most {plural(at_most, 'all-capital word')}")
    count = text.capital_word_count
    return compare(count, relation, threshold, plural(count, "all-capital word"))


@register_checker(
    "change_case:english_capital",
    "The response is entirely upper case (str.isupper) and langdetect (seed 0) says English.",
    NoParams,
)
def english_capital(text: Text, params: NoParams) -> Finding:
    if not text.value.isupper():
        return Finding(False, _case_failure(text.value, "upper"))
    return _english(text, "all upper case")


@register_checker(
    "change_case:english_lowercase",
    "The response is entirely lower case (str.islower) and langdetect (seed 0) says English.",
    NoParams,
)
def english_lowercase(text: Text, params: NoParams) -> Finding:
    if not text.value.islower():
        return Finding(False, _case_failure(text.value, "lower"))
    return _english(text, "all lower case")


def _english(text: Text, case: str) -> Finding:
    detected = text.language
    if detected is None:
        return undetectable("en")
    return Finding(detected == "en", f"{case}; language detected: {detected}; required: en")


def _case_failure(value: str, case: str) -> str:
    """Where the response breaks the case rule: the first letter of the other case."""
    offending = str.islower if case == "upper" else str.isupper
    for index, char in enumerate(value):
        if offending(char):
            return f"not all {case} case: {char!r} at character {index + 1}"
    return f"not all {case} case: the response has no cased letters"
