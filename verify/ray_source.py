"""Reading the input in pieces that Ray workers read on their own, with exact line numbers.

The Ray engine must produce the same `RawLine`s as `verify.reader` — the same bytes, line
numbers, end offsets and oversize handling — or kept rows, `line` fields, default ids and
`--resume` positions would differ from the local engine. This module does that without Ray,
so it is tested on its own:

- JSONL: the file (local path or fsspec URL) is cut into byte ranges. A line belongs to the
  range holding its first byte, so a range reader skips to just after the first newline at or
  beyond its start. Line numbers need the newline count of every range before it: a first pass
  counts newlines per range (cheap, parallel), then each reader knows its first line's number
  before it reads a byte. A piece also knows whether its start is a line start (offset 0 or the
  committed `--resume` offset), so resuming mid-file needs no extra pass.
- Parquet: row groups are the pieces; the footer's row counts give exact row numbers for free.
  Each row is encoded to one JSON line exactly as `verify.reader.iter_dataset_rows` does.

A piece yields Arrow tables of at most CHUNK_LINES rows / CHUNK_BYTES bytes (the pipeline's
chunk size): each table becomes one verification task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa

from verify.reader import OVERSIZE_KEEP_BYTES, RawLine, open_input

RANGE_BYTES = 32 * 1024 * 1024
COUNT_BLOCK_BYTES = 8 * 1024 * 1024
SKIP_BYTES = 1 << 20

BLOCK_SCHEMA = pa.schema([
    ("line", pa.int64()),
    ("data", pa.large_binary()),
    ("end_offset", pa.int64()),
    ("size", pa.int64()),
    ("oversize", pa.bool_()),
])


def open_source(source: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for a local path or a URL such as s3://bucket/data.jsonl."""
    from fsspec.core import url_to_fs

    return url_to_fs(source)


def is_local(source: str) -> bool:
    """Local files can only be read on the driver's machine; URLs can be read by any worker."""
    fs, _ = open_source(source)
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols or "local" in protocols


@dataclass(frozen=True)
class JsonlPiece:
    """Lines whose first byte lies in [start, end); the first of them is line `first_line`.

    `aligned`: `start` is a line start (offset 0 or the resume offset), so nothing is skipped.
    """

    source: str
    start: int
    end: int
    first_line: int
    aligned: bool
    max_line_bytes: int

    @property
    def size_bytes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ParquetPiece:
    """Rows of one row group, from row `first_row` (1-based, the file's row number) on."""

    source: str
    row_group: int
    group_first_row: int  # the file's row number of the row group's first row
    first_row: int
    rows: int
    bytes: int

    @property
    def size_bytes(self) -> int:
        return self.bytes


Piece = JsonlPiece | ParquetPiece


# ---- JSONL ------------------------------------------------------------------------------------


def range_bounds(start: int, size: int, range_bytes: int = RANGE_BYTES) -> list[int]:
    """Byte boundaries [start, ..., size] cutting the rest of the file into ranges."""
    bounds = list(range(start, size, range_bytes)) or [start]
    return bounds + [size]


def count_windows(bounds: list[int]) -> list[tuple[int, int]]:
    """The byte windows whose newline counts number the lines of every range after the first.

    The first line of range i ≥ 1 starts after the first newline at or beyond bounds[i] - 1, so
    line numbers advance by the newlines in [bounds[0], bounds[1] - 1), then in
    [bounds[i] - 1, bounds[i + 1] - 1). The last range's count is never needed.
    """
    windows = []
    for i in range(len(bounds) - 2):
        low = bounds[i] if i == 0 else bounds[i] - 1
        windows.append((low, bounds[i + 1] - 1))
    return windows


def count_newlines(source: str, start: int, end: int) -> int:
    """Newlines in bytes [start, end) of the source."""
    count = 0
    with open_input(source) as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            data = handle.read(min(COUNT_BLOCK_BYTES, left))
            if not data:
                break
            count += data.count(b"\n")
            left -= len(data)
    return count


def jsonl_pieces(source: str, size: int, start_line: int, start_offset: int, max_line_bytes: int,
                 counts: list[int], range_bytes: int = RANGE_BYTES) -> list[JsonlPiece]:
    """The pieces of the rest of a JSONL file, given the newline count of each count window."""
    bounds = range_bounds(start_offset, size, range_bytes)
    if len(counts) != max(0, len(bounds) - 2):
        raise ValueError(f"expected {len(bounds) - 2} newline counts, got {len(counts)}")
    pieces = []
    line = start_line
    for i in range(len(bounds) - 1):
        if i == 1:
            line = start_line + 1 + counts[0]
        elif i > 1:
            line += counts[i - 1]
        pieces.append(JsonlPiece(source, bounds[i], bounds[i + 1], line, i == 0, max_line_bytes))
    return pieces


def read_jsonl_piece(piece: JsonlPiece) -> Iterator[RawLine]:
    """The piece's lines, each exactly as `verify.reader.iter_jsonl` yields it."""
    with open_input(piece.source) as handle:
        if piece.aligned:
            handle.seek(piece.start)
            offset = piece.start
        else:
            handle.seek(piece.start - 1)
            offset = piece.start - 1 + _skip_line(handle)
        number = piece.first_line
        while offset < piece.end:
            data = handle.readline(piece.max_line_bytes + 1)
            if not data:
                return
            if len(data) > piece.max_line_bytes and not data.endswith(b"\n"):
                size = len(data) + _skip_line(handle)
                line = RawLine(number, data[:min(OVERSIZE_KEEP_BYTES, piece.max_line_bytes)], offset + size, size, oversize=True)
            else:
                size = len(data)
                line = RawLine(number, data.rstrip(b"\n").rstrip(b"\r"), offset + size, size)
            offset += size
            number += 1
            yield line


def _skip_line(handle: BinaryIO) -> int:
    """Read past the next newline (or to the end); return how many bytes that was."""
    skipped = 0
    while True:
        data = handle.readline(SKIP_BYTES)
        skipped += len(data)
        if not data or data.endswith(b"\n"):
            return skipped


# ---- Parquet ----------------------------------------------------------------------------------


def parquet_pieces(source: str, start_line: int) -> list[ParquetPiece]:
    """One piece per row group from row `start_line` on, numbered from the footer's row counts."""
    import pyarrow.parquet as pq

    fs, path = open_source(source)
    with fs.open(path, "rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    pieces = []
    group_first = 1
    for group in range(metadata.num_row_groups):
        info = metadata.row_group(group)
        group_end = group_first + info.num_rows  # first row number after this group
        if group_end > start_line and info.num_rows > 0:
            first = max(group_first, start_line)
            pieces.append(ParquetPiece(source, group, group_first, first, group_end - first, info.total_byte_size))
        group_first = group_end
    return pieces


def read_parquet_piece(piece: ParquetPiece, batch_rows: int) -> Iterator[RawLine]:
    """The piece's rows as JSON lines, byte for byte as `verify.reader.iter_dataset_rows` makes them."""
    import pyarrow.parquet as pq

    fs, path = open_source(piece.source)
    skip = piece.first_row - piece.group_first_row
    number = piece.group_first_row
    with fs.open(path, "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows, row_groups=[piece.row_group]):
            for row in batch.to_pylist():
                if skip:
                    skip -= 1
                else:
                    data = json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")
                    yield RawLine(number, data, number, len(data))
                number += 1


# ---- blocks -----------------------------------------------------------------------------------


def read_piece(piece: Piece, chunk_lines: int, chunk_bytes: int) -> Iterator[pa.Table]:
    """The piece's lines as Arrow tables of at most `chunk_lines` rows / about `chunk_bytes` bytes."""
    lines = read_jsonl_piece(piece) if isinstance(piece, JsonlPiece) else read_parquet_piece(piece, chunk_lines)
    chunk: list[RawLine] = []
    size = 0
    for raw in lines:
        chunk.append(raw)
        size += len(raw.data)
        if len(chunk) >= chunk_lines or size >= chunk_bytes:
            yield lines_to_table(chunk)
            chunk, size = [], 0
    if chunk:
        yield lines_to_table(chunk)


def lines_to_table(lines: list[RawLine]) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array([raw.line for raw in lines], pa.int64()),
            pa.array([raw.data for raw in lines], pa.large_binary()),
            pa.array([raw.end_offset for raw in lines], pa.int64()),
            pa.array([raw.size for raw in lines], pa.int64()),
            pa.array([raw.oversize for raw in lines], pa.bool_()),
        ],
        schema=BLOCK_SCHEMA,
    )


def table_to_lines(table: pa.Table, start: int = 0, stop: int | None = None) -> list[RawLine]:
    """Rows [start, stop) of a block as RawLines."""
    part = table.slice(start, None if stop is None else stop - start)
    columns = [part.column(name).to_pylist() for name in BLOCK_SCHEMA.names]
    return [RawLine(line, data, end, size, oversize) for line, data, end, size, oversize in zip(*columns, strict=True)]
