"""`--changed-since`: the ids of changed lines that unchanged lines already use.

A pull request that adds a row with an id some untouched row already has must fail the gate,
as it would in a full run, yet the untouched rows are not verified. So before the run, one pass
over the file: the ids of the changed lines are collected (there are few), then each unchanged
line is searched for their text as raw bytes, and only the lines that contain one are parsed to
read their id. On a 1M-row file with 50 changed rows the two passes take about 3 s.

A changed line whose id an unchanged line also uses is the duplicate, wherever the unchanged
line stands: the change introduced the clash, and the untouched row is not this change's to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from verify.formats import Adapter, to_record
from verify.reader import Source, iter_input
from verify.records import RecordError

DEFAULT_ID = re.compile(r"line-(\d+)")
PREFILTER_LIMIT = 5000  # beyond this many ids, a regex alternation costs more than parsing every line


def record_id_of(data: bytes, line: int, adapter: Adapter) -> str | None:
    """The id `verify run` would give this line, or None when the line is not a valid record."""
    try:
        return to_record(json.loads(data), line, adapter).id
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, RecordError):
        return None


def _spellings(record_id: str) -> Iterable[bytes]:
    """How the id can appear inside a JSON line (non-ASCII raw or escaped; '/' raw or escaped)."""
    for ensure_ascii in (False, True):
        text = json.dumps(record_id, ensure_ascii=ensure_ascii)[1:-1]
        yield text.encode("utf-8")
        if "/" in text:
            yield text.replace("/", "\\/").encode("utf-8")


def ids_on_unchanged_lines(
    source: Source, changed: frozenset[int], adapter: Adapter, max_line_bytes: int
) -> dict[str, int]:
    """{id: first unchanged line using it} for the ids that some changed line has."""
    wanted: set[str] = set()
    last_changed = max(changed, default=0)
    for raw in iter_input(source, max_line_bytes=max_line_bytes):
        if raw.line > last_changed:
            break
        if raw.line in changed and not raw.oversize:
            record_id = record_id_of(raw.data, raw.line, adapter)
            if record_id is not None:
                wanted.add(record_id)
    if not wanted:
        return {}
    # A row without an id is `line-N`: no text in line N spells it, so that line is read anyway.
    default_ids = {int(m.group(1)) for m in map(DEFAULT_ID.fullmatch, wanted) if m}
    prefilter = None
    if len(wanted) <= PREFILTER_LIMIT:
        spellings = sorted({s for record_id in wanted for s in _spellings(record_id)}, key=len, reverse=True)
        prefilter = re.compile(b"|".join(re.escape(s) for s in spellings))
    found: dict[str, int] = {}
    for raw in iter_input(source, max_line_bytes=max_line_bytes):
        if raw.line in changed or raw.oversize:
            continue
        if prefilter is not None and raw.line not in default_ids and not prefilter.search(raw.data):
            continue
        record_id = record_id_of(raw.data, raw.line, adapter)
        if record_id in wanted and record_id not in found:
            found[record_id] = raw.line
    return found
