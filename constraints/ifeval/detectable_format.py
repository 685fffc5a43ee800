"""detectable_format:* — bullets, fixed answers, highlights, sections, JSON, a <<title>>."""

from __future__ import annotations

import json
import re

from pydantic import Field

from constraints.params import Count, NoParams, Params, Pattern, plural
from constraints.regex import compiled
from constraints.registry import Finding, register_checker
from constraints.text import Text

STAR_BULLET = re.compile(r"^\s*\*[^\*].*$", re.MULTILINE)
DASH_BULLET = re.compile(r"^\s*-.*$", re.MULTILINE)
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
SINGLE_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")
TITLE = re.compile(r"<<[^\n]+>>")
JSON_FENCES = ("```json", "```Json", "```JSON", "```")


class BulletParams(Params):
    num_bullets: Count = Field(description="the exact number of markdown bullet points")


@register_checker(
    "detectable_format:number_bullet_lists",
    "Exactly N markdown bullet points (lines starting with '* ' or '-').",
    BulletParams,
    language_independent=True,
)
def number_bullet_lists(text: Text, params: BulletParams) -> Finding:
    count = len(STAR_BULLET.findall(text.value)) + len(DASH_BULLET.findall(text.value))
    return Finding(
        count == params.num_bullets, f"{plural(count, 'bullet point')}; exactly {params.num_bullets} required"
    )


@register_checker(
    "detectable_format:constrained_response",
    "Contains one of 'My answer is yes.', 'My answer is no.', 'My answer is maybe.'.",
    NoParams,
)
def constrained_response(text: Text, params: NoParams) -> Finding:
    value = text.value.strip()
    for option in CONSTRAINED_OPTIONS:
        if option in value:
            return Finding(True, f"contains {option!r}")
    return Finding(False, "contains none of " + ", ".join(repr(option) for option in CONSTRAINED_OPTIONS))


class HighlightParams(Params):
    num_highlights: Count = Field(description="the minimum number of *highlighted* sections")


@register_checker(
    "detectable_format:number_highlighted_sections",
    "At least N non-empty *highlighted* or **highlighted** sections on one line each.",
    HighlightParams,
    language_independent=True,
)
def number_highlighted_sections(text: Text, params: HighlightParams) -> Finding:
    value = text.value
    count = sum(1 for found in SINGLE_HIGHLIGHT.findall(value) if found.strip("*").strip())
    count += sum(1 for found in DOUBLE_HIGHLIGHT.findall(value) if found[2:-2].strip())
    return Finding(
        count >= params.num_highlights,
        f"{plural(count, 'highlighted section')}; at least {params.num_highlights} required",
    )


class SectionParams(Params):
    section_spliter: Pattern = Field(description="the word starting each section, e.g. 'Section' (IFEval's spelling)")
    num_sections: Count = Field(description="the minimum number of sections")


@register_checker(
    "detectable_format:multiple_sections",
    "At least N sections, each starting with the splitter word and a number ('Section 1').",
    SectionParams,
)
def multiple_sections(text: Text, params: SectionParams) -> Finding:
    splitter = params.section_spliter.strip()
    count = len(compiled(r"\s?" + splitter + r"\s?\d+\s?").split(text.value)) - 1
    return Finding(
        count >= params.num_sections,
        f"{plural(count, 'section')} marked '{splitter} <number>'; at least {params.num_sections} required",
    )


@register_checker(
    "detectable_format:json_format",
    "The whole response parses as JSON, optionally inside a ``` / ```json fence.",
    NoParams,
    language_independent=True,
)
def json_format(text: Text, params: NoParams) -> Finding:
    value = text.value.strip()
    for fence in JSON_FENCES:
        value = value.removeprefix(fence)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except ValueError as exc:
        return Finding(False, f"not valid JSON: {exc}")
    return Finding(True, "valid JSON")


@register_checker(
    "detectable_format:title",
    "Contains a non-empty title in double angular brackets, such as <<poem of joy>>.",
    NoParams,
    language_independent=True,
)
def title(text: Text, params: NoParams) -> Finding:
    for found in TITLE.findall(text.value):
        if found.lstrip("<").rstrip(">").strip():
            return Finding(True, f"title {found}")
    return Finding(False, "no <<title>> on one line")
