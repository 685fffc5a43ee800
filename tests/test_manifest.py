"""The manifest is the receipt: only rows it vouches for come out of `vouched_records`."""

from __future__ import annotations

from pathlib import Path

import pytest
from spine import chat, run_verify, write_jsonl

from verify.manifest import ManifestError, vouched_records


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    rows = [chat(f"answer {i}", id=f"r{i}", checks={"nonempty": {}}) for i in range(4)]
    data = write_jsonl(tmp_path / "data.jsonl", rows + [chat(" ", checks={"nonempty": {}})])
    run_verify(["run", str(data), "-o", "out", "--plugin", "pipeline_checks"], tmp_path)
    return tmp_path / "out"


def test_vouched_records_are_the_kept_rows(run_dir: Path) -> None:
    records = list(vouched_records(run_dir))
    assert [r.id for r in records] == ["r0", "r1", "r2", "r3"]
    assert records[0].response == "answer 0"


def test_an_edited_row_is_refused_naming_its_line(run_dir: Path) -> None:
    kept = run_dir / "kept.jsonl"
    lines = kept.read_text().splitlines()
    lines[2] = lines[2].replace("answer 2", "answer 2 (edited)")
    kept.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match=r"kept.jsonl:3: this row is not vouched for"):
        list(vouched_records(run_dir))


def test_an_added_row_is_refused(run_dir: Path) -> None:
    with open(run_dir / "kept.jsonl", "a") as handle:
        handle.write('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "smuggled"}]}\n')
    with pytest.raises(ManifestError, match=r"kept.jsonl:5: this row is not vouched for"):
        list(vouched_records(run_dir))


def test_a_removed_or_reordered_row_changes_the_file_hash(run_dir: Path) -> None:
    kept = run_dir / "kept.jsonl"
    lines = kept.read_text().splitlines()
    kept.write_text("\n".join(reversed(lines)) + "\n")
    with pytest.raises(ManifestError, match="its sha256 differs"):
        list(vouched_records(run_dir))


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not a `verify run` output directory"):
        list(vouched_records(tmp_path))
    with pytest.raises(ManifestError, match="is not a directory"):
        list(vouched_records(tmp_path / "nope"))
