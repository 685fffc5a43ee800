"""From a row's verdicts to its outcome and output line (DESIGN.md §3).

kept: every check passed · rejected: a check failed · errors: none failed, one errored ·
unchecked: no check applies · invalid: the line could not be read as a record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from verify.records import Record, Verdict

OUTCOMES: tuple[str, ...] = ("kept", "rejected", "errors", "unchecked", "invalid")
OUTPUT_FILES: dict[str, str] = {outcome: f"{outcome}.jsonl" for outcome in OUTCOMES}
INVALID_RAW_CHARS = 2000


def classify(verdicts: Sequence[Verdict]) -> str:
    statuses = {verdict.status for verdict in verdicts}
    if "fail" in statuses:
        return "rejected"
    if "error" in statuses:
        return "errors"
    if "pass" in statuses:
        return "kept"
    return "unchecked"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def verdict_row(record: Record, verdicts: Sequence[Verdict]) -> bytes:
    """The line written to rejected / errors / unchecked: the row, its record and verdicts."""
    return dumps(
        {"line": record.line, "id": record.id, "record": record.to_dict(), "verdicts": [v.to_dict() for v in verdicts]}
    )


def invalid_row(line: int, raw: bytes, error: str) -> bytes:
    """The line written to invalid.jsonl; `raw` is shown as text, cut to a readable length."""
    text = raw.decode("utf-8", errors="backslashreplace")
    if len(text) > INVALID_RAW_CHARS:
        text = text[:INVALID_RAW_CHARS] + f"… [{len(text) - INVALID_RAW_CHARS} more characters cut]"
    return dumps({"line": line, "raw": text, "error": error})
