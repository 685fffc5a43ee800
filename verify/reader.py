"""Reading input rows: JSONL streamed line by line, Parquet and HF datasets through `datasets`.

Every source yields `RawLine`s in input order with 1-based line numbers and the byte offset just
after the line, so an interrupted run can seek back to exactly where it committed. A line longer
than the limit is never held whole in memory: its first bytes are kept for the error message
and the rest is skipped to the next newline.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
OVERSIZE_KEEP_BYTES = 2048  # of an oversize line, this much (at most the limit) is kept for its error row
READ_BLOCK_BYTES = 1 << 20
SAMPLE_ROWS = 100


class InputError(RuntimeError):
    """The input as a whole cannot be read (missing, a directory we cannot read, bad extension)."""


@dataclass(slots=True)
class RawLine:
    line: int
    data: bytes
    end_offset: int
    size: int  # the whole line's size in bytes, newline included
    oversize: bool = False  # longer than the limit: `data` holds only its first bytes


Source = Path | str  # a local path, or an fsspec URL such as s3://bucket/data.jsonl (a str)


def is_url(source: Source) -> bool:
    return isinstance(source, str) and "://" in source


class _SeekableStream(io.RawIOBase):
    """Lets io.BufferedReader wrap an fsspec file, so that `readline(limit)` and `seek` behave
    exactly as on a local file (fsspec's own readline takes no limit)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.handle.close()
        super().close()


def open_input(source: Source) -> BinaryIO:
    """A buffered binary reader for a local path or an fsspec URL."""
    if not is_url(source):
        return open(source, "rb")
    from fsspec.core import url_to_fs

    filesystem, path = url_to_fs(str(source))
    return io.BufferedReader(_SeekableStream(filesystem.open(path, "rb")), 1 << 20)  # type: ignore[return-value]


def input_size(source: Source) -> int | None:
    """The input's size in bytes (None for a folder)."""
    if is_url(source):
        from fsspec.core import url_to_fs

        filesystem, path = url_to_fs(str(source))
        return filesystem.size(path)
    return Path(source).stat().st_size if Path(source).is_file() else None


def input_kind(source: Source) -> str:
    """'jsonl', 'parquet' or 'hf-dataset' (a folder written by `Dataset.save_to_disk`)."""
    if is_url(source):
        return "parquet" if str(source).endswith(".parquet") else "jsonl"
    path = Path(source)
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "hf-dataset"
        raise InputError(f"{path} is a folder but not a saved Hugging Face dataset (no dataset_info.json)")
    if path.suffix == ".parquet":
        return "parquet"
    return "jsonl"


def check_readable(source: Source) -> None:
    if is_url(source):
        try:
            with open_input(source) as handle:
                handle.read(1)
        except (OSError, ValueError, ImportError) as exc:
            raise InputError(f"cannot read {source}: {exc}") from exc
        return
    path = Path(source)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from exc


def iter_jsonl(path: Source, start_line: int = 1, start_offset: int = 0,
               max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Lines of a JSONL file from a committed position, each with its end offset.

    Reads 1 MiB blocks and splits them (several times faster than a readline per line). A line
    longer than `max_line_bytes` is never held whole: once the unfinished line passes the limit,
    its first bytes are kept and the rest is only counted up to the next newline.
    """
    keep = min(OVERSIZE_KEEP_BYTES, max_line_bytes)
    with open_input(path) as handle:
        handle.seek(start_offset)
        offset, number = start_offset, start_line
        carry = b""
        skipping: tuple[bytes, int] | None = None  # (first bytes, bytes so far) of an oversize line
        while block := handle.read(READ_BLOCK_BYTES):
            if skipping is not None:
                cut = block.find(b"\n")
                if cut < 0:
                    skipping = (skipping[0], skipping[1] + len(block))
                    continue
                size = skipping[1] + cut + 1
                offset += size
                yield RawLine(number, skipping[0], offset, size, oversize=True)
                number += 1
                skipping = None
                block = block[cut + 1:]
            pieces = (carry + block if carry else block).split(b"\n")
            carry = pieces.pop()
            for piece in pieces:
                size = len(piece) + 1
                offset += size
                if len(piece) > max_line_bytes:
                    yield RawLine(number, piece[:keep], offset, size, oversize=True)
                else:
                    yield RawLine(number, piece.rstrip(b"\r"), offset, size)
                number += 1
            if len(carry) > max_line_bytes:
                skipping, carry = (carry[:keep], len(carry)), b""
        if skipping is not None:
            yield RawLine(number, skipping[0], offset + skipping[1], skipping[1], oversize=True)
        elif carry:
            yield RawLine(number, carry.rstrip(b"\r"), offset + len(carry), len(carry), oversize=len(carry) > max_line_bytes)


def iter_dataset_rows(path: Source, kind: str, start_line: int = 1) -> Iterator[RawLine]:
    """Rows of a Parquet file or saved HF dataset, each re-encoded as one JSON line."""
    try:
        import datasets
    except ImportError as exc:
        raise InputError(f"reading {kind} input needs the datasets library: pip install 'sft-verify[datasets]'") from exc
    if kind == "parquet":
        rows: Any = datasets.load_dataset("parquet", data_files=str(path), split="train", streaming=True)
    else:
        rows = datasets.load_from_disk(str(path))
        if isinstance(rows, datasets.DatasetDict):
            raise InputError(f"{path} holds several splits ({', '.join(rows)}); pass one split's folder")
    for index, row in enumerate(rows):
        number = index + 1
        if number < start_line:
            continue
        data = json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")
        yield RawLine(number, data, number, len(data))


def iter_input(path: Source, start_line: int = 1, start_offset: int = 0,
               max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawLine]:
    kind = input_kind(path)
    if kind == "jsonl":
        return iter_jsonl(path, start_line, start_offset, max_line_bytes)
    return iter_dataset_rows(path, kind, start_line)


def sample_rows(path: Source, limit: int = SAMPLE_ROWS) -> list[Any]:
    """Up to `limit` parsed rows from the start of the input, for format detection."""
    rows: list[Any] = []
    for raw in iter_input(path):
        if len(rows) >= limit:
            break
        if raw.oversize or not raw.data.strip():
            continue
        try:
            rows.append(json.loads(raw.data))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    return rows
