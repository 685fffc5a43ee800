"""detectable_content:* — square-bracket placeholders and a postscript."""

from __future__ import annotations

import re

from pydantic import Field

from constraints.params import Count, Params, Pattern, plural
from constraints.regex import compiled
from constraints.registry import Finding, register_checker
from constraints.text import Text

PLACEHOLDER = re.compile(r"\[.*?\]")
# The reference's patterns for its two standard markers; any other marker is used as a regex.
POSTSCRIPT_PATTERNS = {"P.P.S": r"\s*p\.\s?p\.\s?s.*$", "P.S.": r"\s*p\.\s?s\..*$"}


class PlaceholderParams(Params):
    num_placeholders: Count = Field(description="the minimum number of [placeholders]")


@register_checker(
    "detectable_content:number_placeholders",
    "At least N placeholders in square brackets, such as [address].",
    PlaceholderParams,
    language_independent=True,
)
def number_placeholders(text: Text, params: PlaceholderParams) -> Finding:
    return placeholder_finding(text.value, params.num_placeholders)


def placeholder_finding(value: str, minimum: int) -> Finding:
    """At least `minimum` [placeholders] in `value`; shared with tulu:validate_placeholders."""
    count = len(PLACEHOLDER.findall(value))
    return Finding(count >= minimum, f"{plural(count, 'placeholder')} in square brackets; at least {minimum} required")


class PostscriptParams(Params):
    postscript_marker: Pattern = Field(description="e.g. 'P.S.' or 'P.P.S' (others are matched as a regex)")


@register_checker(
    "detectable_content:postscript",
    "A postscript starting with the marker (case-insensitive; 'P.S.' and 'P.P.S' allow spaces between letters).",
    PostscriptParams,
)
def postscript(text: Text, params: PostscriptParams) -> Finding:
    marker = params.postscript_marker.strip()
    pattern = POSTSCRIPT_PATTERNS.get(marker) or r"\s*" + marker.lower() + r".*$"
    match = compiled(pattern, re.MULTILINE).search(text.lower)
    if match:
        return Finding(True, f"postscript {marker!r} found at character {match.start() + 1}")
    return Finding(False, f"no postscript starting with {marker!r}")
