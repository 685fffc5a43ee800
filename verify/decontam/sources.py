"""Benchmark texts to decontaminate against: the built-in corpora and readers for user files.

A benchmark is a list of units, one per (item, field): an item is one benchmark question, a
field is one of its texts (MBPP has a description and its test asserts). Coverage is measured
per unit, so a row that copies only an MBPP description is caught even though the item's
tests are longer than the description.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_FORMATS = ("auto", "jsonl", "parquet", "text")
TEXT_UNITS = ("line", "paragraph", "file")


@dataclass(frozen=True)
class Unit:
    item: str  # the benchmark's own id for the item (task_id, key, id) or its line number
    field: str
    text: str


@dataclass(frozen=True)
class BenchmarkSource:
    name: str
    title: str
    path: str  # relative to the corpora folder
    fields: tuple[str, ...]
    id_field: str


BUILTIN_BENCHMARKS: dict[str, BenchmarkSource] = {
    source.name: source
    for source in (
        BenchmarkSource("ifeval", "IFEval prompts", "ifeval/input_data.jsonl", ("prompt",), "key"),
        BenchmarkSource("gsm8k", "GSM8K test problems", "math/gsm8k_test_first400.jsonl", ("question",), "id"),
        BenchmarkSource("math", "MATH test problems", "math/math_test_100_from_qwen_example.jsonl", ("question",), "id"),
        BenchmarkSource("humaneval", "HumanEval prompts", "code/HumanEval.jsonl", ("prompt",), "task_id"),
        BenchmarkSource("mbpp", "MBPP prompts and tests", "code/mbpp_sanitized.jsonl", ("text", "test_list"), "task_id"),
    )
}


class SourceError(ValueError):
    """A benchmark file that cannot be read as asked; the message says what to change."""


def default_corpora() -> Path:
    """`$SFT_VERIFY_CORPORA`, else the `shared/corpora` folder beside this checkout."""
    override = os.environ.get("SFT_VERIFY_CORPORA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "corpora"


def field_text(value: Any) -> str | None:
    """A field's text: a string, a number, a list of strings (joined by lines) or of chat
    messages (their contents joined); None for anything else (counted as missing)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("content"), str):
                parts.append(part["content"])
            else:
                return None
        return "\n".join(parts)
    return None


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    return "text"


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based row number, row) from a JSONL or Parquet file."""
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SourceError(f"{path}:{number}: not JSON ({exc.msg}); use --format text for plain text") from exc
                if not isinstance(row, dict):
                    raise SourceError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
                yield number, row
        return
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise SourceError("reading Parquet needs pyarrow: pip install 'sft-verify[datasets]'") from exc
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def read_text_units(path: Path, text_unit: str) -> Iterator[Unit]:
    text = path.read_text(encoding="utf-8")
    if text_unit == "file":
        yield Unit(path.name, "text", text)
        return
    if text_unit == "line":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield Unit(str(number), "text", line)
        return
    start, block = 1, []
    for number, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield Unit(f"line {start}", "text", "\n".join(block))
            block = []


def read_units(path: Path, fields: Sequence[str], id_field: str | None = None, fmt: str = "auto",
               text_unit: str = "line") -> Iterator[Unit]:
    """The units of a benchmark file; raises SourceError when no row has any of `fields`."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"benchmark file {path} does not exist")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "text":
        yield from read_text_units(path, text_unit)
        return
    if not fields:
        raise SourceError(f"{path} is {fmt}: say which field holds the text with --field")
    found = 0
    seen_keys: set[str] = set()
    for number, row in read_rows(path, fmt):
        if len(seen_keys) < 200:
            seen_keys.update(map(str, row))
        item = row.get(id_field) if id_field else None
        item_id = str(item) if item is not None and item != "" else str(number)
        for name in fields:
            text = field_text(row.get(name))
            if text is not None and text.strip():
                found += 1
                yield Unit(item_id, name, text)
    if not found:
        raise SourceError(
            f"no row of {path} has text in field(s) {', '.join(fields)}; fields seen: {', '.join(sorted(seen_keys))}"
        )
