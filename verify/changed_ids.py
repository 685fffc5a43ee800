"""`--changed-since`: the ids of changed lines that unchanged lines already use.

A pull request that adds a row with an id some untouched row already has must fail the gate,
as it would in a full run, yet the untouched rows are not verified. So before the run, one pass
over the file: the ids of the changed lines are collected (there are few), then each unchanged
line is searched for their text as raw bytes, and only the lines that may hold one are parsed,
the way `verify run` parses them (`LineParser`). On a 1M-row file with 50 changed rows the two
passes take 0.7 s.

A line "may hold" an id when it contains one of the id's JSON spellings, an escaped ASCII
character (`\\u0041` could spell any id), or, for an id `line-N`, when it is line N (a row with
no id is named by its line). Ids that adapters make from non-string values (a float `key`, a
boolean `task_id`) need not appear as text at all: with one of those, every unchanged line is
parsed. So is every line when the change has too many ids for one search pattern.

A changed line whose id an unchanged line also uses is the duplicate, wherever the unchanged
line stands: the change introduced the clash, and the untouched row is not this change's to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from verify.chunk import LineParser
from verify.reader import RawLine, Source, iter_input

DEFAULT_ID = re.compile(r"line-(\d+)")
NOT_AS_TEXT = re.compile(r"-?\d+\.\d+(e[-+]\d+)?|-?\d+e[-+]\d+|True|False|None|-?inf|nan")  # str() of non-strings
ESCAPED_ASCII = re.compile(rb"\\u00[0-7][0-9a-fA-F]")
PREFILTER_LIMIT = 5000  # beyond this many ids, a regex alternation costs more than parsing every line


def record_id(parser: LineParser, raw: RawLine) -> str | None:
    """The id `verify run` gives this line, or None when the line is blank or invalid there."""
    row = parser.parse(raw)
    return row.record.id if row.kind == "record" and row.record is not None else None


def _spellings(value: str) -> Iterable[bytes]:
    """How the id's text can appear inside a JSON line: non-ASCII raw or escaped (either hex case), '/' or '\\/'."""
    raw = json.dumps(value, ensure_ascii=False)[1:-1]
    escaped = json.dumps(value)[1:-1]
    upper = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped)
    for text in {raw, escaped, upper}:
        yield text.encode("utf-8")
        if "/" in text:
            yield text.replace("/", "\\/").encode("utf-8")


def _prefilter(wanted: set[str]) -> re.Pattern[bytes] | None:
    """A pattern every line holding one of the ids matches, or None when lines must all be parsed."""
    if len(wanted) > PREFILTER_LIMIT or any(NOT_AS_TEXT.fullmatch(value) for value in wanted):
        return None
    spellings = sorted({s for value in wanted for s in _spellings(value)}, key=len, reverse=True)
    return re.compile(b"|".join([*(re.escape(s) for s in spellings), ESCAPED_ASCII.pattern]))


def ids_on_unchanged_lines(source: Source, changed: frozenset[int], parser: LineParser) -> dict[str, int]:
    """{id: first unchanged line using it} for the ids that some changed line has."""
    max_line_bytes = parser.config.max_line_bytes
    wanted: set[str] = set()
    last_changed = max(changed, default=0)
    for raw in iter_input(source, max_line_bytes=max_line_bytes):
        if raw.line > last_changed:
            break
        if raw.line in changed and (value := record_id(parser, raw)) is not None:
            wanted.add(value)
    if not wanted:
        return {}
    default_lines = {int(m.group(1)) for m in map(DEFAULT_ID.fullmatch, wanted) if m}
    prefilter = _prefilter(wanted)
    found: dict[str, int] = {}
    for raw in iter_input(source, max_line_bytes=max_line_bytes):
        if raw.line in changed:
            continue
        if prefilter is not None and raw.line not in default_lines and not prefilter.search(raw.data):
            continue
        value = record_id(parser, raw)
        if value in wanted and value not in found:
            found[value] = raw.line
    return found
