"""Shared by the sandbox benches: the code corpus's rows as canonical records.

`../shared/corpora/code/sft_pairs.jsonl` rows carry `prompt`, `response` (markdown with a
python block), `tests` (an assert script), `entry_point` and the label `expected_pass`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verify.records import Record

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpora" / "code" / "sft_pairs.jsonl"


def load_rows(path: Path = CORPUS) -> list[dict[str, Any]]:
    if not path.exists():
        raise SystemExit(f"corpus not found at {path}: the benches read ../shared/corpora/code")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def to_record(row: dict[str, Any], line: int) -> tuple[Record, dict[str, Any]]:
    spec = {"language": "python", "tests": row["tests"], "entry_point": row["entry_point"]}
    messages = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["response"]}]
    return Record(id=row["id"], line=line, messages=messages, checks={"code": spec}), spec
