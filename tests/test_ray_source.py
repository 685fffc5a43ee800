"""The Ray engine's input pieces yield exactly the lines `verify.reader` yields (no Ray needed)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from verify.ray_source import (
    count_newlines,
    count_windows,
    is_local,
    jsonl_pieces,
    lines_to_table,
    parquet_pieces,
    range_bounds,
    read_jsonl_piece,
    read_parquet_piece,
    read_piece,
    table_to_lines,
)
from verify.reader import RawLine, iter_dataset_rows, iter_jsonl

MAX_LINE = 64  # small, so that oversize lines are cheap to make


def awkward_jsonl(path: Path) -> Path:
    """Blank lines, CRLF, invalid UTF-8, lines longer than the limit, no final newline."""
    parts = [
        b'{"a": 1}\n',
        b"\n",
        b'{"b": "crlf"}\r\n',
        b"x" * 200 + b"\n",  # oversize
        b'{"c": "\xff\xfe"}\n',
        b"\n\n",
        b"y" * (MAX_LINE - 1) + b"\n",  # just fits
        b"z" * MAX_LINE + b"\n",  # exactly the limit plus its newline: fits
        b"w" * (MAX_LINE + 1) + b"\n",  # oversize by one
        b'{"d": 4}\n' * 7,
        b"v" * 500,  # oversize, no final newline
    ]
    path.write_bytes(b"".join(parts))
    return path


def pieces_lines(source: str, size: int, start_line: int, start_offset: int, range_bytes: int) -> list[RawLine]:
    bounds = range_bounds(start_offset, size, range_bytes)
    counts = [count_newlines(source, low, high) for low, high in count_windows(bounds)]
    lines: list[RawLine] = []
    for piece in jsonl_pieces(source, size, start_line, start_offset, MAX_LINE, counts, range_bytes):
        lines += read_jsonl_piece(piece)
    return lines


@pytest.mark.parametrize("range_bytes", [1, 2, 3, 7, 16, 64, 65, 100, 1000, 10_000])
def test_jsonl_pieces_equal_the_sequential_reader_for_any_range_size(tmp_path: Path, range_bytes: int) -> None:
    path = awkward_jsonl(tmp_path / "data.jsonl")
    expected = list(iter_jsonl(path, max_line_bytes=MAX_LINE))
    assert pieces_lines(str(path), path.stat().st_size, 1, 0, range_bytes) == expected
    assert [raw.oversize for raw in expected].count(True) == 3


@pytest.mark.parametrize("range_bytes", [1, 5, 33, 4096])
def test_jsonl_pieces_resume_from_every_committed_position(tmp_path: Path, range_bytes: int) -> None:
    path = awkward_jsonl(tmp_path / "data.jsonl")
    size = path.stat().st_size
    everything = list(iter_jsonl(path, max_line_bytes=MAX_LINE))
    for done, last in enumerate(everything, start=1):
        rest = pieces_lines(str(path), size, done + 1, last.end_offset, range_bytes)
        assert rest == everything[done:], (range_bytes, done)


def test_file_url_reads_like_a_path(tmp_path: Path) -> None:
    path = awkward_jsonl(tmp_path / "data.jsonl")
    url = path.as_uri()
    assert url.startswith("file://") and is_local(url) and is_local(str(path))
    assert pieces_lines(url, path.stat().st_size, 1, 0, 10) == list(iter_jsonl(path, max_line_bytes=MAX_LINE))


def test_remote_urls_are_not_local() -> None:
    assert not is_local("memory://bucket/data.jsonl")


def test_blocks_keep_chunk_limits_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"i": i, "pad": "p" * (i % 50)}) + "\n" for i in range(2500)))
    [piece] = jsonl_pieces(str(path), path.stat().st_size, 1, 0, 1 << 20, [], range_bytes=1 << 30)
    blocks = list(read_piece(piece, chunk_lines=1000, chunk_bytes=1 << 30))
    assert [block.num_rows for block in blocks] == [1000, 1000, 500]
    by_bytes = list(read_piece(piece, chunk_lines=1000, chunk_bytes=20_000))
    assert all(block.num_rows < 1000 for block in by_bytes[:-1])
    rebuilt = [raw for block in by_bytes for raw in table_to_lines(block)]
    assert rebuilt == list(iter_jsonl(path))
    assert table_to_lines(lines_to_table(rebuilt[:10]), 3, 5) == rebuilt[3:5]


def parquet_rows() -> list[dict]:
    return [
        {
            "id": f"r{i}",
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": f"é {i} 中文"}],
            "score": i / 3 if i % 4 else None,
            "n": i,
            "flag": i % 2 == 0,
            "when": datetime.datetime(2024, 1, 1, 12, 0, i % 60),
            "tags": [f"t{j}" for j in range(i % 3)],
            "nested": {"k": i, "v": [1.5, None]},
        }
        for i in range(230)
    ]


def test_parquet_pieces_equal_the_datasets_reader(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_pylist(parquet_rows()), path, row_group_size=50)
    expected = list(iter_dataset_rows(path, "parquet"))
    pieces = parquet_pieces(str(path), 1)
    assert [(p.first_row, p.rows) for p in pieces] == [(1, 50), (51, 50), (101, 50), (151, 50), (201, 30)]
    got = [raw for piece in pieces for raw in read_parquet_piece(piece, batch_rows=17)]
    assert got == expected
    # resuming at any row starts in the right row group at the right row
    for start in (1, 2, 50, 51, 52, 199, 230):
        rest = [raw for piece in parquet_pieces(str(path), start) for raw in read_parquet_piece(piece, batch_rows=17)]
        assert rest == expected[start - 1:], start
    assert parquet_pieces(str(path), 231) == []
