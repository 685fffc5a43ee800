"""punctuation:no_comma — no ASCII comma anywhere."""

from __future__ import annotations

from constraints.params import NoParams, plural
from constraints.registry import Finding, register_checker
from constraints.text import Text


@register_checker("punctuation:no_comma", "The response contains no ',' (ASCII comma).", NoParams)
def no_comma(text: Text, params: NoParams) -> Finding:
    first = text.value.find(",")
    if first < 0:
        return Finding(True, "no commas")
    count = text.value.count(",")
    return Finding(False, f"{plural(count, 'comma')}, first at character {first + 1}")
