"""combination:* — two different responses, or the request repeated before the answer."""

from __future__ import annotations

from pydantic import Field

from constraints.params import NonBlank, NoParams, Params
from constraints.registry import Finding, register_checker
from constraints.text import Text

SEPARATOR = "******"


@register_checker(
    "combination:two_responses",
    "Exactly two different non-empty responses separated by ******.",
    NoParams,
    language_independent=True,
)
def two_responses(text: Text, params: NoParams) -> Finding:
    parts = text.value.split(SEPARATOR)
    last = len(parts) - 1
    responses = []
    for index, part in enumerate(parts):
        if part.strip():
            responses.append(part)
        elif index not in (0, last):
            return Finding(False, f"response {index + 1} between two ****** separators is empty")
    if len(responses) != 2:
        return Finding(False, f"{len(responses)} responses separated by ******; exactly 2 required")
    if responses[0].strip() == responses[1].strip():
        return Finding(False, "the two responses separated by ****** are identical")
    return Finding(True, "two different responses separated by ******")


class RepeatParams(Params):
    prompt_to_repeat: NonBlank = Field(description="the request the response must start with, word for word")


@register_checker(
    "combination:repeat_prompt",
    "The response starts by repeating the request (case-insensitive, surrounding spaces ignored).",
    RepeatParams,
)
def repeat_prompt(text: Text, params: RepeatParams) -> Finding:
    wanted = params.prompt_to_repeat.strip().lower()
    if text.value.strip().lower().startswith(wanted):
        return Finding(True, "starts with the request repeated word for word")
    return Finding(False, f"does not start with the request {_preview(params.prompt_to_repeat.strip())}")


def _preview(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")
