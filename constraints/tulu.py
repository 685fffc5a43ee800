"""Tulu 3's RLVR-IFeval checkers, registered as `tulu:<func_name>`.

Tulu 3's RLVR-IFeval ground truths name one function of allenai/open-instruct's
`open_instruct/if_functions.py` (`{"func_name": "verify_bullet_points", "N": 3}`); the
input adapter turns that into the id `tulu:verify_bullet_points` with the other keys as
kwargs. Most of those functions differ from IFEval's rule for the same idea (exact counts
instead of "at least", substring instead of whole-word or regex matching, `str.split` words,
a regex sentence splitter, `* * *` dividers, case tests without language detection), so each
is implemented here with Tulu's own semantics and Tulu's own kwarg names rather than bending
an IFEval checker. Two are the same rule as an IFEval checker and share its code:
`validate_placeholders` (= detectable_content:number_placeholders) and `validate_no_commas`
(= punctuation:no_comma).

As in open-instruct's verifier, each function sees the response after
`remove_thinking_section` (`register_tulu` hands it over) (the text after the last `</think>`, `<answer>` tags and
`<|assistant|>` removed, stripped). The semantics are those of open-instruct's current
`if_functions.py`; docs/constraints.md lists where the Tulu 3 release differed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, model_validator

from constraints.ifeval.combination import SEPARATOR
from constraints.ifeval.content import placeholder_finding
from constraints.ifeval.language import UNDETECTABLE_CODE
from constraints.ifeval.punctuation import no_comma
from constraints.params import Count, Letter, NonBlank, NoParams, Params, WordList, plural, times
from constraints.regex import compiled
from constraints.registry import CheckFunction, Finding, register_checker
from constraints.text import Text

Quantifier = Literal["at least", "at most", "around"]
TULU_WORD = re.compile(r"\b\w+\b")
TULU_SENTENCE_BREAK = re.compile(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?|!)\s")
TULU_HIGHLIGHT = re.compile(r"\*(.*?)\*")
TULU_TITLE = re.compile(r"<<(.*?)>>")
TULU_CAPITAL_WORD = re.compile(r"\b[A-Z]+\b")


def register_tulu(
    instruction_id: str, description: str, params: type[Params] = NoParams, **registration: Any
) -> Callable[[CheckFunction], CheckFunction]:
    """`register_checker` for a Tulu function: the function is handed the response after
    `remove_thinking_section` (`Text.tulu_answer`), so none can forget to strip the thinking part."""

    def decorate(check: CheckFunction) -> CheckFunction:
        register_checker(instruction_id, description, params, **registration)(
            lambda text, p: check(text.tulu_answer, p)
        )
        return check

    return decorate


def _quantified(actual: int, quantifier: str, target: int, around: int) -> bool:
    if quantifier == "at least":
        return actual >= target
    if quantifier == "at most":
        return actual <= target
    return abs(actual - target) <= around


def _quantifier_phrase(quantifier: str, target: int, around: int) -> str:
    if quantifier == "around":
        return f"around {target} (±{around}) required"
    return f"{quantifier} {target} required"


def _quantity(count: int, noun: str, quantifier: str, target: int, around: int) -> Finding:
    """'<count> <noun>s; at least N required' (or at most / around ±k), and whether it holds."""
    return Finding(
        _quantified(count, quantifier, target, around),
        f"{plural(count, noun)}; {_quantifier_phrase(quantifier, target, around)}",
    )


def _ten_percent(target: int) -> int:
    """Tulu's tolerance for 'around' word and capital-word counts: max(round(N * 0.1), 1)."""
    return max(round(target * 0.1), 1)


class KeywordsParams(Params):
    keyword_list: WordList = Field(description="keywords that must all appear (substring, case-insensitive)")


@register_tulu("tulu:verify_keywords", "Tulu: every keyword is a case-insensitive substring.", KeywordsParams)
def verify_keywords(text: Text, params: KeywordsParams) -> Finding:
    answer = text.lower
    missing = [keyword for keyword in params.keyword_list if keyword.lower() not in answer]
    if missing:
        return Finding(False, "missing keywords: " + ", ".join(repr(keyword) for keyword in missing))
    return Finding(True, f"all {plural(len(params.keyword_list), 'keyword')} present")


class KeywordFrequencyParams(Params):
    word: NonBlank = Field(description="the word, compared with \\b\\w+\\b tokens, case-insensitive")
    N: Count = Field(description="the exact number of occurrences")


@register_tulu(
    "tulu:verify_keyword_frequency",
    "Tulu: the word occurs exactly N times as a whole \\w+ token (case-insensitive).",
    KeywordFrequencyParams,
)
def verify_keyword_frequency(text: Text, params: KeywordFrequencyParams) -> Finding:
    wanted = params.word.lower()
    count = sum(1 for token in TULU_WORD.findall(text.lower) if token == wanted)
    return Finding(count == params.N, f"{params.word!r} appears {times(count)}; exactly {params.N} required")


class ForbiddenParams(Params):
    forbidden_words: WordList = Field(description="words that must not appear (substring, case-insensitive)")


@register_tulu(
    "tulu:validate_forbidden_words",
    "Tulu: no forbidden word occurs, even inside another word (case-insensitive substring).",
    ForbiddenParams,
)
def validate_forbidden_words(text: Text, params: ForbiddenParams) -> Finding:
    answer = text.lower
    found = [word for word in params.forbidden_words if word.lower() in answer]
    if found:
        return Finding(False, "forbidden words used: " + ", ".join(repr(word) for word in found))
    return Finding(True, f"none of the {len(params.forbidden_words)} forbidden words used")


class LetterParams(Params):
    letter: Letter = Field(description="one character, counted case-sensitively")
    N: Count = Field(description="the exact number of occurrences")


@register_tulu(
    "tulu:verify_letter_frequency",
    "Tulu: the character occurs exactly N times (case-sensitive).",
    LetterParams,
)
def verify_letter_frequency(text: Text, params: LetterParams) -> Finding:
    count = text.value.count(params.letter)
    return Finding(count == params.N, f"{params.letter!r} appears {times(count)}; exactly {params.N} required")


class LanguageParams(Params):
    language: NonBlank = Field(description="langdetect language code, e.g. 'en'")


@register_tulu(
    "tulu:validate_response_language",
    "Tulu: langdetect (seed 0) names the language; text without language features fails.",
    LanguageParams,
)
def validate_response_language(text: Text, params: LanguageParams) -> Finding:
    detected = text.language
    if detected is None:
        return Finding(
            False,
            f"langdetect found no language features (Tulu's function raises here, reward 0); required: {params.language}",
            UNDETECTABLE_CODE,
        )
    return Finding(detected == params.language, f"language detected: {detected}; required: {params.language}")


class ParagraphCountParams(Params):
    N: Count = Field(description="the exact number of paragraphs")


@register_tulu(
    "tulu:verify_paragraph_count",
    "Tulu: exactly N non-empty paragraphs separated by '* * *' (lines stripped first).",
    ParagraphCountParams,
    language_independent=True,
)
def verify_paragraph_count(text: Text, params: ParagraphCountParams) -> Finding:
    cleaned = "\n".join(line.strip() for line in text.value.splitlines()).strip()
    paragraphs = cleaned.split("* * *")
    empty = [index + 1 for index, paragraph in enumerate(paragraphs) if not paragraph.strip()]
    if empty:
        return Finding(False, f"paragraph {empty[0]} around the '* * *' dividers is empty")
    count = len(paragraphs)
    return Finding(count == params.N, f"{plural(count, 'paragraph')} separated by '* * *'; exactly {params.N} required")


class QuantityParams(Params):
    N: Count = Field(description="the target count")
    quantifier: Quantifier = Field(description="'at least', 'at most' or 'around'")


@register_tulu(
    "tulu:validate_word_constraint",
    "Tulu: at least / at most / around (±10%, min 1) N whitespace-separated words.",
    QuantityParams,
)
def validate_word_constraint(text: Text, params: QuantityParams) -> Finding:
    count = len(text.value.split())
    return _quantity(count, "word", params.quantifier, params.N, _ten_percent(params.N))


@register_tulu(
    "tulu:verify_sentence_constraint",
    "Tulu: at least / at most / around (±1) N sentences, split after . ? ! followed by a space.",
    QuantityParams,
)
def verify_sentence_constraint(text: Text, params: QuantityParams) -> Finding:
    count = len(TULU_SENTENCE_BREAK.split(text.value))
    return _quantity(count, "sentence", params.quantifier, params.N, 1)


class ParagraphsParams(Params):
    N: Count = Field(description="the exact number of paragraphs separated by \\n\\n")
    first_word: NonBlank = Field(description="what paragraph i must start with (case-sensitive prefix)")
    i: Count = Field(description="which paragraph, 1-based")

    @model_validator(mode="after")
    def _i_within(self) -> ParagraphsParams:
        if not 1 <= self.i <= self.N:
            raise ValueError(f"i must be between 1 and N ({self.N}), got {self.i}")
        return self


@register_tulu(
    "tulu:validate_paragraphs",
    "Tulu: exactly N pieces between \\n\\n, and piece i starts with first_word (case-sensitive prefix).",
    ParagraphsParams,
)
def validate_paragraphs(text: Text, params: ParagraphsParams) -> Finding:
    paragraphs = text.value.split("\n\n")
    if len(paragraphs) != params.N:
        return Finding(False, f"{plural(len(paragraphs), 'paragraph')} split by \\n\\n; exactly {params.N} required")
    paragraph = paragraphs[params.i - 1].strip()
    if not paragraph.startswith(params.first_word):
        return Finding(
            False, f"paragraph {params.i} does not start with {params.first_word!r} (it starts {paragraph[:30]!r})"
        )
    return Finding(True, f"{params.N} paragraphs; paragraph {params.i} starts with {params.first_word!r}")


class PostscriptParams(Params):
    postscript_marker: NonBlank = Field(description="e.g. 'P.S.' (case-sensitive substring)")


@register_tulu(
    "tulu:verify_postscript",
    "Tulu: the marker occurs (case-sensitive) and some text follows it.",
    PostscriptParams,
)
def verify_postscript(text: Text, params: PostscriptParams) -> Finding:
    answer = text.value
    marker = params.postscript_marker
    position = answer.find(marker)
    if position < 0:
        return Finding(False, f"no {marker!r} in the response")
    if len(answer[position:].strip()) <= len(marker):
        return Finding(False, f"{marker!r} at character {position + 1} is followed by nothing")
    return Finding(True, f"postscript {marker!r} at character {position + 1}")


class CountParams(Params):
    N: Count = Field(description="the required count")


@register_tulu(
    "tulu:validate_placeholders",
    "Tulu: at least N [placeholders].",
    CountParams,
    language_independent=True,
    same_as="detectable_content:number_placeholders",
)
def validate_placeholders(text: Text, params: CountParams) -> Finding:
    return placeholder_finding(text.value, params.N)


@register_tulu(
    "tulu:verify_bullet_points",
    "Tulu: exactly N lines starting with '*' or '-' (after stripping; '**bold**' lines count).",
    CountParams,
    language_independent=True,
)
def verify_bullet_points(text: Text, params: CountParams) -> Finding:
    count = sum(1 for line in text.value.split("\n") if line.strip().startswith(("*", "-")))
    return Finding(count == params.N, f"{plural(count, 'line')} starting with * or -; exactly {params.N} required")


@register_tulu(
    "tulu:validate_title",
    "Tulu: some <<...>> on one line, even an empty one.",
    NoParams,
    language_independent=True,
)
def validate_title(text: Text, params: NoParams) -> Finding:
    found = TULU_TITLE.search(text.value)
    return Finding(True, f"title {found.group(0)}") if found else Finding(False, "no <<title>>")


class ChoiceParams(Params):
    options: WordList = Field(description="the allowed answers (case-sensitive substring)")


@register_tulu(
    "tulu:validate_choice",
    "Tulu: one of the options occurs in the response (case-sensitive substring).",
    ChoiceParams,
)
def validate_choice(text: Text, params: ChoiceParams) -> Finding:
    answer = text.value
    for option in params.options:
        if option in answer:
            return Finding(True, f"contains the option {option!r}")
    return Finding(False, "contains none of the options " + ", ".join(repr(option) for option in params.options))


@register_tulu(
    "tulu:validate_highlighted_sections",
    "Tulu: at least N *...* spans on one line (empty ones and ** count too).",
    CountParams,
    language_independent=True,
)
def validate_highlighted_sections(text: Text, params: CountParams) -> Finding:
    count = len(TULU_HIGHLIGHT.findall(text.value))
    return Finding(count >= params.N, f"{plural(count, '*highlighted* span')}; at least {params.N} required")


class SectionsParams(Params):
    N: Count = Field(description="the minimum number of sections")
    section_splitter: NonBlank = Field(description="the word starting each section, e.g. 'Section' (literal)")


@register_tulu(
    "tulu:validate_sections",
    "Tulu: at least N sections headed '<splitter> <number>' (literal splitter, case-insensitive).",
    SectionsParams,
)
def validate_sections(text: Text, params: SectionsParams) -> Finding:
    pattern = r"\s?" + re.escape(params.section_splitter) + r"\s?\d+\s?"
    count = len(compiled(pattern, re.IGNORECASE).split(text.value)) - 1
    return Finding(
        count >= params.N,
        f"{plural(count, 'section')} headed '{params.section_splitter} <number>'; at least {params.N} required",
    )


@register_tulu(
    "tulu:validate_json_format",
    "Tulu: the whole response parses as JSON (no markdown fence allowed).",
    NoParams,
    language_independent=True,
)
def validate_json_format(text: Text, params: NoParams) -> Finding:
    try:
        json.loads(text.value)
    except ValueError as exc:
        return Finding(False, f"not valid JSON: {exc}")
    return Finding(True, "valid JSON")


class RepeatParams(Params):
    original_prompt: NonBlank = Field(description="the request, which the response must start with exactly")


@register_tulu(
    "tulu:validate_repeat_prompt",
    "Tulu: the response starts with the request, exactly (case-sensitive).",
    RepeatParams,
)
def validate_repeat_prompt(text: Text, params: RepeatParams) -> Finding:
    if text.value.startswith(params.original_prompt):
        return Finding(True, "starts with the request repeated exactly")
    return Finding(False, "does not start with the request repeated exactly")


@register_tulu(
    "tulu:validate_two_responses",
    "Tulu: exactly one ****** separator between two different responses.",
    NoParams,
    language_independent=True,
)
def validate_two_responses(text: Text, params: NoParams) -> Finding:
    answer = text.value
    separators = answer.count(SEPARATOR)
    if separators != 1:
        return Finding(False, f"{plural(separators, '****** separator')}; exactly 1 required")
    first, second = (part.strip() for part in answer.split(SEPARATOR))
    if first == second:
        return Finding(False, "the two responses separated by ****** are identical")
    return Finding(True, "two different responses separated by ******")


@register_tulu("tulu:validate_uppercase", "Tulu: the response equals its upper-cased self.", NoParams)
def validate_uppercase(text: Text, params: NoParams) -> Finding:
    answer = text.value
    if answer == answer.upper():
        return Finding(True, "no lower-case letters")
    return Finding(False, "contains lower-case letters")


@register_tulu("tulu:validate_lowercase", "Tulu: the response equals its lower-cased self.", NoParams)
def validate_lowercase(text: Text, params: NoParams) -> Finding:
    answer = text.value
    if answer == answer.lower():
        return Finding(True, "no capital letters")
    return Finding(False, "contains capital letters")


@register_tulu(
    "tulu:validate_frequency_capital_words",
    "Tulu: at least / at most / around (±10%, min 1) N \\b[A-Z]+\\b words.",
    QuantityParams,
)
def validate_frequency_capital_words(text: Text, params: QuantityParams) -> Finding:
    count = len(TULU_CAPITAL_WORD.findall(text.value))
    return _quantity(count, "all-capital word", params.quantifier, params.N, _ten_percent(params.N))


class EndParams(Params):
    end_phrase: NonBlank = Field(description="the exact ending (case-sensitive)")


@register_tulu("tulu:validate_end", "Tulu: the response ends with the phrase exactly.", EndParams)
def validate_end(text: Text, params: EndParams) -> Finding:
    answer = text.value
    if answer.endswith(params.end_phrase):
        return Finding(True, f"ends with {params.end_phrase!r}")
    return Finding(False, f"ends with {answer[-len(params.end_phrase) :]!r}; required {params.end_phrase!r}")


@register_tulu("tulu:validate_quotation", 'Tulu: the response starts and ends with ".', NoParams)
def validate_quotation(text: Text, params: NoParams) -> Finding:
    answer = text.value
    if answer.startswith('"') and answer.endswith('"'):
        return Finding(True, "wrapped in double quotation marks")
    return Finding(False, "not wrapped in double quotation marks")


@register_tulu(
    "tulu:validate_no_commas",
    "Tulu: no ',' in the response.",
    NoParams,
    same_as="punctuation:no_comma",
)
def validate_no_commas(text: Text, params: NoParams) -> Finding:
    return no_comma(text, params)
