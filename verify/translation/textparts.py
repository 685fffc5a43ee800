"""Splitting a text into what a translator must copy verbatim and the prose it must translate.

Fenced code, inline code, URLs, e-mail addresses, placeholders and markup tags are protected:
a faithful translation carries them over unchanged. Everything else is prose. Language
identification, number checks and the length ratio look at prose only, because code and
URLs are English-looking in every language and would mislead them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verify import markdown

INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'`\u3000-\u303f\uff00-\uffef，。、；：！？（）【】《》]+")
URL_TRAILING = ".,;:!?)]}'\""
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PLACEHOLDER = re.compile(
    r"\{\{[^{}\n]+\}\}"  # {{ jinja / mustache }}
    r"|\$\{[^{}\n]+\}"  # ${shell_or_js}
    r"|\{(?:[A-Za-z_][\w.]*|\d*)(?:![rsa])?(?::[^{}\s]*)?\}"  # {name} {0} {} {x:.2f}
    r"|(?<![%\w])%(?:\(\w+\))?(?:\d+\$)?[-+0#]*\d*(?:\.\d+)?[sdifuxXoeEgGc@](?![A-Za-z])"  # %s %(n)d %1$s
    r"|\$[A-Z_][A-Z0-9_]+\b"  # $ENV_VAR
)
HTML_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>\n]*)?/?>")
MATH = re.compile(r"\$\$.+?\$\$|(?<![\w$])\$(?!\s)[^$\n]+?(?<!\s)\$(?![\w$])|\\\(.+?\\\)|\\\[.+?\\\]", re.S)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its info string (language tag) and body, exactly as written."""

    info: str
    body: str
    closed: bool

    def text(self) -> str:
        return f"{self.info}\n{self.body}"


@dataclass(frozen=True)
class Parts:
    """The protected pieces of a text, in order, and the prose left around them."""

    code_blocks: list[CodeBlock]
    inline_code: list[str]
    urls: list[str]
    emails: list[str]
    placeholders: list[str]
    html_tags: list[str]
    outside_code: str  # the text with fenced blocks removed (markdown structure lives here)
    prose: str  # outside_code minus inline code, URLs, e-mails, placeholders, tags and math
    prose_with_math: str  # like prose but keeping math (numbers in formulas still count)


def split_fences(text: str) -> tuple[list[CodeBlock], str]:
    """Fenced code blocks (CommonMark ``` / ~~~ rules, see verify.markdown) and the text
    without them, each block replaced by one empty line.

    An unclosed fence runs to the end of the text, as CommonMark renders it; `closed` records
    that, since a truncated translation often loses the closing fence.
    """
    blocks: list[CodeBlock] = []
    outside: list[str] = []
    done = 0
    for block in markdown.fenced_blocks(text):
        blocks.append(CodeBlock(info=block.info, body=block.raw, closed=block.closed))
        outside.append(text[done : block.start])
        done = block.end
    outside.append(text[done:])
    return blocks, "".join(outside)


def _strip_urls(text: str) -> tuple[list[str], str]:
    urls: list[str] = []

    def take(match: re.Match[str]) -> str:
        url = match.group(0)
        trimmed = url.rstrip(URL_TRAILING)
        # keep a closing parenthesis that belongs to the URL, e.g. wiki/Foo_(bar)
        while trimmed.count("(") > trimmed.count(")") and len(trimmed) < len(url) and url[len(trimmed)] == ")":
            trimmed += ")"
        urls.append(trimmed)
        return " " + url[len(trimmed) :]

    return urls, URL.sub(take, text)


def _take_all(pattern: re.Pattern[str], text: str, group: int = 0) -> tuple[list[str], str]:
    found: list[str] = []

    def take(match: re.Match[str]) -> str:
        found.append(match.group(group))
        return " "

    return found, pattern.sub(take, text)


def split(text: str) -> Parts:
    """Separate protected spans from prose. Order matters: code first (a URL inside code is
    code), then URLs and e-mails (a URL may contain `{}` or `%20`), then placeholders."""
    code_blocks, outside = split_fences(text)
    inline_code, rest = _take_all(INLINE_CODE, outside, group=2)
    urls, rest = _strip_urls(rest)
    emails, rest = _take_all(EMAIL, rest)
    placeholders, rest = _take_all(PLACEHOLDER, rest)
    html_tags, rest = _take_all(HTML_TAG, rest)
    _, prose = _take_all(MATH, rest)
    return Parts(
        code_blocks=code_blocks,
        inline_code=inline_code,
        urls=urls,
        emails=emails,
        placeholders=placeholders,
        html_tags=html_tags,
        outside_code=outside,
        prose=prose,
        prose_with_math=rest,
    )


def letters(text: str) -> int:
    """How many letters (any script) a text has; digits, punctuation and spaces do not count."""
    return sum(1 for char in text if char.isalpha())


def visible_length(text: str) -> int:
    """Characters that are not whitespace: the unit of the length-ratio invariant."""
    return sum(1 for char in text if not char.isspace())
