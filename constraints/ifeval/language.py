"""language:response_language — the whole response is in the required language."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from constraints.params import Params
from constraints.registry import Finding, register_checker
from constraints.text import Text

UNDETECTABLE_CODE = "constraints.undetectable_language"


def _known_language(value: str) -> str:
    from constraints.langid import supported_languages

    supported = supported_languages()
    if value not in supported:
        hint = " (langdetect says 'zh-cn' or 'zh-tw')" if value.lower().startswith("zh") else ""
        raise ValueError(f"{value!r} is not a language langdetect can return{hint}; one of: {', '.join(supported)}")
    return value


class LanguageParams(Params):
    language: Annotated[str, Field(strict=True), AfterValidator(_known_language)] = Field(
        description="langdetect language code, e.g. 'en', 'de', 'zh-cn'"
    )


def undetectable(required: str) -> Finding:
    """IFEval counts an instruction as followed when langdetect cannot run on the text; we
    keep that verdict (the reference's) but give it its own code so it can be audited."""
    return Finding(
        True,
        f"langdetect found no language features in the text; counted as followed as the IFEval "
        f"reference does (required: {required})",
        UNDETECTABLE_CODE,
    )


@register_checker(
    "language:response_language",
    "langdetect (seed 0) names the required language for the whole response.",
    LanguageParams,
)
def response_language(text: Text, params: LanguageParams) -> Finding:
    detected = text.language
    if detected is None:
        return undetectable(params.language)
    return Finding(detected == params.language, f"language detected: {detected}; required: {params.language}")
