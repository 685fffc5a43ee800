"""Markdown fenced code blocks, found by the CommonMark rules; shared by every caller.

The sandbox pulls the code to run out of them, the translation check compares them byte for
byte. Both read the blocks from `fenced_blocks`, so they cannot disagree about where a block
starts and ends. The rules (CommonMark 0.31, section 4.5, outside any container block):

- An opening fence is a run of at least 3 backticks or 3 tildes, indented at most 3 spaces.
  The rest of its line, with leading and trailing spaces and tabs stripped, is the info
  string; a backtick fence's info string may not contain a backtick (such a line is not a
  fence), a tilde fence's may.
- A closing fence is a run of the opening fence's character, at least as long, indented at
  most 3 spaces and followed only by spaces or tabs. A line that merely looks like a fence
  inside a block (another character, shorter, more indented, text after it) is content.
- A block without a closing fence runs to the end of the document (a truncated answer).
- Up to as many leading spaces as the opening fence had are removed from each content line.

Lines are split on "\\n" only, and a "\\r" just before it belongs to the line ending ("\\r\\n"),
so fences of a CRLF text are found; a lone "\\r" (or U+2028 and friends) is not a line break.
A final "\\n" ends the last line rather than starting an empty one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENING = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")


@dataclass(frozen=True)
class FencedBlock:
    """One fenced code block and where it lies in the text it was found in.

    `start:end` spans the block from the start of its opening line to the end of its closing
    line (the "\\n" after it excluded, a "\\r" before that included) or, unclosed, to the end of
    the text.
    `body_start:body_end` spans the content exactly as written (between the newline after the
    opening fence and the newline before the closing one). Line numbers count from 0 over
    `text.split("\\n")`; `end_line` is exclusive.
    """

    fence: str  # the opening fence run, e.g. "```" or "~~~~"
    indent: int  # spaces before the opening fence (0-3)
    info: str  # the info string, stripped ("python", "py title=x", "")
    lines: tuple[str, ...]  # content lines: indentation removed, line endings dropped
    raw: str  # the content exactly as written (text[body_start:body_end])
    closed: bool
    start: int
    end: int
    body_start: int
    body_end: int
    start_line: int
    end_line: int

    @property
    def language(self) -> str:
        """The first word of the info string, lower-cased ("" when there is none)."""
        words = self.info.split()
        return words[0].lower() if words else ""


def _opening(line: str) -> tuple[int, str, str] | None:
    """(indent, fence, info) when the line opens a fenced block."""
    match = OPENING.fullmatch(line)
    if not match:
        return None
    indent, fence, rest = match.groups()
    if fence[0] == "`" and "`" in rest:
        return None
    return len(indent), fence, rest.strip(" \t")


def _closes(line: str, fence: str) -> bool:
    match = CLOSING.fullmatch(line)
    return match is not None and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)


def _dedent(line: str, indent: int) -> str:
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced code block of a Markdown text, in order."""
    pieces = text.split("\n")
    offsets = [0]
    for piece in pieces[:-1]:
        offsets.append(offsets[-1] + len(piece) + 1)
    lines = [piece.removesuffix("\r") for piece in pieces]
    # a final "\n" ends the last line; the empty piece after it is no line of its own
    count = len(lines) - 1 if text.endswith("\n") or not text else len(lines)
    blocks: list[FencedBlock] = []
    index = 0
    while index < count:
        opening = _opening(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, info = opening
        start_line, content = index, index + 1
        close = content
        while close < count and not _closes(lines[close], fence):
            close += 1
        closed = close < count
        body_start = offsets[content] if content < len(offsets) else len(text)
        if closed:
            body_end = max(offsets[close] - 1, body_start)
            end = offsets[close] + len(pieces[close])
            index = end_line = close + 1
        else:
            body_end = end = len(text)
            index, end_line = count, len(pieces)
        blocks.append(
            FencedBlock(
                fence=fence,
                indent=indent,
                info=info,
                lines=tuple(_dedent(line, indent) for line in lines[content:close]),
                raw=text[body_start:body_end],
                closed=closed,
                start=offsets[start_line],
                end=end,
                body_start=body_start,
                body_end=body_end,
                start_line=start_line,
                end_line=end_line,
            )
        )
    return blocks
