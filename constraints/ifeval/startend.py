"""startend:* — a fixed closing phrase, or the whole response wrapped in double quotes."""

from __future__ import annotations

from pydantic import Field

from constraints.params import NonBlank, NoParams, Params
from constraints.registry import Finding, register_checker
from constraints.text import Text


class EndParams(Params):
    end_phrase: NonBlank = Field(description="the phrase the response must end with (case-insensitive)")


@register_checker(
    "startend:end_checker",
    "Ends with the phrase (case-insensitive; surrounding spaces and double quotes ignored).",
    EndParams,
)
def end_checker(text: Text, params: EndParams) -> Finding:
    required = params.end_phrase.strip()
    phrase = required.lower()  # never empty: end_phrase is NonBlank
    ending = text.value.strip().strip('"').lower()
    if ending.endswith(phrase):
        return Finding(True, f"ends with {required!r}")
    return Finding(False, f"ends with {ending[-len(phrase) :]!r}; required {required!r}")


@register_checker(
    "startend:quotation",
    'The whole response (surrounding spaces ignored) is wrapped in double quotation marks (").',
    NoParams,
)
def quotation(text: Text, params: NoParams) -> Finding:
    value = text.value.strip()
    if len(value) > 1 and value[0] == '"' and value[-1] == '"':
        return Finding(True, "wrapped in double quotation marks")
    if len(value) <= 1:
        return Finding(False, f"{value!r} is too short to be wrapped in double quotation marks")
    return Finding(False, f"starts with {value[:1]!r} and ends with {value[-1:]!r}; both must be '\"'")
