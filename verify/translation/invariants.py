"""Deterministic invariants between a source text and its translation.

Each check compares one property a faithful translation keeps and, when it breaks, says
exactly what changed ("number 250 in the source is missing from the translation"). They need
no model, run in microseconds, and catch most machine-translation damage that matters for
training data: altered numbers and code, dropped placeholders, truncation, copies.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from verify.translation import languages, numbers
from verify.translation.findings import Finding
from verify.translation.textparts import Parts, letters, visible_length

HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+\S", re.M)
SETEXT = re.compile(r"^[^\n]*\S[^\n]*\n {0,3}(=+|-+)[ \t]*$", re.M)
BULLET = re.compile(r"^[ \t]*[-*+•][ \t]+\S", re.M)
NUMBERED = re.compile(r"^[ \t]*\d+[.)][ \t]+\S", re.M)
TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.M)
BLOCKQUOTE = re.compile(r"^ {0,3}>", re.M)
BOLD = re.compile(r"\*\*(?=\S)[^\n]*?(?<=\S)\*\*|__(?=\S)[^\n]*?(?<=\S)__")
WORDS = re.compile(r"[^\W\d_]+")
ITALIC = re.compile(r"(?<![*\\A-Za-z0-9])\*(?=[^\s*])[^*\n]*?(?<=[^\s*])\*(?![*A-Za-z0-9])")


@dataclass(frozen=True)
class Pair:
    """Everything the invariants read: both texts split into parts, and the language pair."""

    source: str
    translation: str
    source_parts: Parts
    translation_parts: Parts
    source_lang: str
    target_lang: str


@dataclass(frozen=True)
class Settings:
    """Thresholds of the invariants that have any (see TranslationVerifier.Options)."""

    length_ratio_tolerance: float = 1.8
    length_ratio_min_chars: int = 40
    untranslated_chrf: float = 70.0
    untranslated_min_letters: int = 12


def _multiset_change(kind: str, source: list[str], translation: list[str]) -> Finding | None:
    missing = list((Counter(source) - Counter(translation)).elements())
    added = list((Counter(translation) - Counter(source)).elements())
    if not missing and not added:
        return None
    parts = []
    if missing:
        parts.append(f"missing from the translation: {', '.join(repr(item) for item in missing[:5])}")
    if added:
        parts.append(f"not in the source: {', '.join(repr(item) for item in added[:5])}")
    return Finding(
        f"translation.{kind}",
        f"{kind.replace('_', ' ')} changed; " + "; ".join(parts),
        {"missing": missing, "added": added},
    )


def check_numbers(pair: Pair, settings: Settings) -> Finding | None:
    missing, added = numbers.compare(
        pair.source_parts.prose_with_math, pair.source_lang, pair.translation_parts.prose_with_math, pair.target_lang
    )
    if not missing and not added:
        return None
    parts = []
    if missing:
        parts.append(f"{', '.join(missing[:5])} in the source {'is' if len(missing) == 1 else 'are'} missing")
    if added:
        parts.append(
            f"{', '.join(added[:5])} in the translation {'is' if len(added) == 1 else 'are'} not in the source"
        )
    return Finding("translation.numbers", "numbers changed: " + "; ".join(parts), {"missing": missing, "added": added})


def _first_difference(source: str, translation: str) -> tuple[int, str, str]:
    source_lines, translation_lines = source.split("\n"), translation.split("\n")
    for number in range(max(len(source_lines), len(translation_lines))):
        left = source_lines[number] if number < len(source_lines) else "<end of block>"
        right = translation_lines[number] if number < len(translation_lines) else "<end of block>"
        if left != right:
            return number + 1, left, right
    return 0, "", ""


def check_code_blocks(pair: Pair, settings: Settings) -> Finding | None:
    source, translation = pair.source_parts.code_blocks, pair.translation_parts.code_blocks
    if len(source) != len(translation):
        return Finding(
            "translation.code_blocks",
            f"the source has {len(source)} fenced code block(s), the translation {len(translation)}",
            {"source_blocks": len(source), "translation_blocks": len(translation)},
        )
    for index, (left, right) in enumerate(zip(source, translation, strict=True), start=1):
        if left.text() != right.text() or left.closed != right.closed:
            if left.info != right.info:
                where = f"its language tag {left.info!r} became {right.info!r}"
            elif left.closed != right.closed:
                where = "its closing fence is missing" if left.closed else "it gained a closing fence"
            else:
                line, before, after = _first_difference(left.body, right.body)
                where = f"line {line} {before.strip()!r} became {after.strip()!r}"
            return Finding(
                "translation.code_blocks",
                f"code block {index} is not byte-identical to the source: {where}",
                {"block": index},
            )
    return None


def check_inline_code(pair: Pair, settings: Settings) -> Finding | None:
    return _multiset_change("inline_code", pair.source_parts.inline_code, pair.translation_parts.inline_code)


def check_urls(pair: Pair, settings: Settings) -> Finding | None:
    return _multiset_change("urls", pair.source_parts.urls, pair.translation_parts.urls)


def check_emails(pair: Pair, settings: Settings) -> Finding | None:
    return _multiset_change("emails", pair.source_parts.emails, pair.translation_parts.emails)


def check_placeholders(pair: Pair, settings: Settings) -> Finding | None:
    return _multiset_change("placeholders", pair.source_parts.placeholders, pair.translation_parts.placeholders)


def check_html_tags(pair: Pair, settings: Settings) -> Finding | None:
    return _multiset_change("html_tags", pair.source_parts.html_tags, pair.translation_parts.html_tags)


def markdown_counts(text: str) -> dict[str, int]:
    """How many of each markdown element a text (fenced code already removed) has."""
    counts = dict(Counter(f"level-{len(match.group(1))} headings" for match in HEADING.finditer(text)))
    counts["underlined headings"] = len(SETEXT.findall(text))
    counts["bullet list items"] = len(BULLET.findall(text))
    counts["numbered list items"] = len(NUMBERED.findall(text))
    counts["table rows"] = len(TABLE_ROW.findall(text))
    counts["blockquote lines"] = len(BLOCKQUOTE.findall(text))
    counts["bold spans"] = len(BOLD.findall(text))
    counts["italic spans"] = len(ITALIC.findall(BOLD.sub(" ", text)))
    return {name: count for name, count in counts.items() if count}


def check_markdown(pair: Pair, settings: Settings) -> Finding | None:
    source = markdown_counts(pair.source_parts.outside_code)
    translation = markdown_counts(pair.translation_parts.outside_code)
    changed = {name: (source.get(name, 0), translation.get(name, 0)) for name in sorted(set(source) | set(translation))}
    changed = {name: counts for name, counts in changed.items() if counts[0] != counts[1]}
    if not changed:
        return None
    described = "; ".join(
        f"{left} {name} in the source, {right} in the translation" for name, (left, right) in changed.items()
    )
    return Finding(
        "translation.markdown",
        f"markdown structure changed: {described}",
        {name: {"source": left, "translation": right} for name, (left, right) in changed.items()},
    )


def _line_shape(text: str) -> tuple[int, int]:
    """(non-empty lines, paragraphs) of a text."""
    lines = [line for line in text.split("\n") if line.strip()]
    paragraphs = [block for block in re.split(r"\n[ \t]*\n", text) if block.strip()]
    return len(lines), len(paragraphs)


def check_lines(pair: Pair, settings: Settings) -> Finding | None:
    source_lines, source_paragraphs = _line_shape(pair.source_parts.outside_code)
    lines, paragraphs = _line_shape(pair.translation_parts.outside_code)
    if source_lines == lines and source_paragraphs == paragraphs:
        return None
    return Finding(
        "translation.lines",
        f"line structure changed: the source has {source_lines} non-empty line(s) in {source_paragraphs} "
        f"paragraph(s), the translation {lines} in {paragraphs}",
        {"source_lines": source_lines, "translation_lines": lines,
         "source_paragraphs": source_paragraphs, "translation_paragraphs": paragraphs},
    )  # fmt: skip


SENTENCE_END = ".!?。！？…؟।‼"
CLOSERS = "\"'”’»)]}）】」』*_ \t\n"


def _ends_sentence(text: str) -> bool | None:
    """Whether a text ends a sentence; None when it ends in code (the code check owns that)."""
    stripped = text.rstrip(CLOSERS)
    if not stripped or text.rstrip().endswith(("```", "~~~")):
        return None
    return stripped[-1] in SENTENCE_END


def check_ending(pair: Pair, settings: Settings) -> Finding | None:
    """A translation cut off mid-sentence: the source ends a sentence, the translation not."""
    if _ends_sentence(pair.source) is not True or _ends_sentence(pair.translation) is not False:
        return None
    tail = pair.translation.rstrip()[-30:]
    return Finding(
        "translation.ending",
        f"the translation stops mid-sentence (ends with {tail!r}) while the source ends a sentence",
        {"translation_tail": tail},
    )


def check_length_ratio(pair: Pair, settings: Settings) -> Finding | None:
    source_length = visible_length(pair.source_parts.prose)
    if source_length < settings.length_ratio_min_chars:
        return None
    translation_length = visible_length(pair.translation_parts.prose)
    expected = languages.density(pair.target_lang) / languages.density(pair.source_lang)
    relative = translation_length / source_length / expected
    tolerance = settings.length_ratio_tolerance
    if 1 / tolerance <= relative <= tolerance:
        return None
    verdict = "shorter" if relative < 1 else "longer"
    hint = " (truncated or summarised?)" if relative < 1 else " (added content?)"
    return Finding(
        "translation.length_ratio",
        f"the translation is {relative:.2f}x the length expected for {pair.source_lang}->{pair.target_lang}, "
        f"{verdict} than the allowed {1 / tolerance:.2f}-{tolerance:.2f}x{hint}",
        {"relative_length": round(relative, 3), "source_chars": source_length, "translation_chars": translation_length},
    )


def _words(text: str) -> str:
    """Only the words of a text: digits, punctuation and table rules are the same in every
    language and would make a translated table look like a copy."""
    return " ".join(WORDS.findall(text))


def check_untranslated(pair: Pair, settings: Settings) -> Finding | None:
    if pair.source_lang == pair.target_lang or letters(pair.source_parts.prose) < settings.untranslated_min_letters:
        return None
    from verify.translation.similarity import chrf

    score = chrf(_words(pair.translation_parts.prose), _words(pair.source_parts.prose))
    if score < settings.untranslated_chrf:
        return None
    return Finding(
        "translation.untranslated",
        f"the translation copies the source (chrF {score:.1f} against the source prose, "
        f"at least {settings.untranslated_chrf:g} means untranslated)",
        {"chrf_to_source": round(score, 2)},
    )


CHECKS: dict[str, Callable[[Pair, Settings], Finding | None]] = {
    "numbers": check_numbers,
    "code_blocks": check_code_blocks,
    "inline_code": check_inline_code,
    "urls": check_urls,
    "emails": check_emails,
    "placeholders": check_placeholders,
    "html_tags": check_html_tags,
    "markdown": check_markdown,
    "lines": check_lines,
    "ending": check_ending,
    "length_ratio": check_length_ratio,
    "untranslated": check_untranslated,
}
INVARIANTS: tuple[str, ...] = tuple(CHECKS)


def run(pair: Pair, enabled: tuple[str, ...], settings: Settings) -> list[Finding]:
    """Every enabled invariant's finding, in the fixed order of INVARIANTS."""
    return [finding for name in INVARIANTS if name in enabled and (finding := CHECKS[name](pair, settings))]
