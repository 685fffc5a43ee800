"""Typed, frozen kwargs for the checkers, and the sentences their validation errors become.

The IFEval reference draws a random value for any missing or out-of-range kwarg; here a
missing, mistyped or out-of-range kwarg is an `error` naming the instruction id and the field.
Counts are integers ≥ 0: a JSON `3` or `3.0` (pandas turns nullable int columns into floats)
is accepted, `"3"`, `true` and `3.5` are not. Relations are exactly IFEval's two.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

Relation = Literal["less than", "at least"]


def _integral(value: Any) -> Any:
    """Accept ints and integral floats; leave anything else for pydantic to reject."""
    if isinstance(value, bool):
        raise ValueError(f"must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_integral), Field(ge=0, strict=True)]
Text = Annotated[str, Field(strict=True)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError(f"must not be empty (got {value!r})")
    return value


NonBlank = Annotated[str, Field(strict=True), AfterValidator(_not_blank)]


def _compiles(value: str) -> str:
    """The reference uses these strings as regular expressions, unescaped."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(
            f"{value!r} is not a valid regular expression ({exc}); IFEval matches it as a regex, "
            "so escape its special characters"
        ) from None
    return value


def _one_character(value: str) -> str:
    if len(value) != 1 or value.isspace():
        raise ValueError(f"must be exactly one non-space character (got {value!r})")
    return value


Letter = Annotated[str, Field(strict=True), AfterValidator(_one_character)]
Pattern = Annotated[str, Field(strict=True), AfterValidator(_not_blank), AfterValidator(_compiles)]
PatternList = Annotated[list[Pattern], Field(min_length=1, strict=True)]
WordList = Annotated[list[NonBlank], Field(min_length=1, strict=True)]


class Params(BaseModel):
    """Base of every checker's kwargs: frozen, unknown keys rejected, no coercion of strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """For checkers that take no kwargs."""


def relation_holds(actual: int, relation: str, threshold: int) -> bool:
    """IFEval's only two relations: `less than` (<) and `at least` (>=)."""
    return actual < threshold if relation == "less than" else actual >= threshold


def relation_phrase(relation: str, threshold: int) -> str:
    """'at least 300 required' / 'less than 300 allowed'."""
    return f"at least {threshold} required" if relation == "at least" else f"less than {threshold} allowed"


def describe_validation_error(exc: ValidationError) -> str:
    """One sentence naming each offending field: "kwarg 'num_words' is required; ..."."""
    parts = []
    for error in exc.errors():
        location = _location(error.get("loc", ()))
        kind = error.get("type", "")
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        if kind == "missing":
            parts.append(f"kwarg {location} is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown kwarg {location} (value {error.get('input')!r})")
        elif not location:  # a rule across several kwargs
            parts.append(message)
        elif kind == "value_error":  # our own validators name the value themselves
            parts.append(f"kwarg {location} {_lowercase_first(message)}")
        else:
            parts.append(f"kwarg {location} {_lowercase_first(message)} (got {error.get('input')!r})")
    return "; ".join(parts)


def _location(loc: tuple[Any, ...]) -> str:
    if not loc:
        return ""
    head, *rest = loc
    return repr(str(head)) + "".join(f"[{item}]" for item in rest)


def _lowercase_first(message: str) -> str:
    if message.startswith("Input should"):
        return "should" + message[len("Input should") :]
    return message[:1].lower() + message[1:] if message else message


def plural(count: int, noun: str) -> str:
    """'1 word' / '287 words'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def times(count: int) -> str:
    """'once' / '3 times'."""
    return "once" if count == 1 else f"{count} times"
