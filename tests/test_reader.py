"""The JSONL reader: exact line numbers, end offsets and oversize handling at block boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from verify import reader
from verify.reader import iter_jsonl


def readline_reference(path: Path, max_line_bytes: int) -> list[tuple[int, bytes, int, int, bool]]:
    """The obvious reader (one readline per line), to compare the block reader against."""
    out = []
    offset = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            offset += len(line)
            content = line[:-1] if line.endswith(b"\n") else line
            if len(content) > max_line_bytes:
                out.append((number, content[:min(reader.OVERSIZE_KEEP_BYTES, max_line_bytes)], offset, len(line), True))
            else:
                out.append((number, content.rstrip(b"\r"), offset, len(line), False))
    return out


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_block_reader_equals_readline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(reader, "READ_BLOCK_BYTES", block)
    lines = [b"{}", b"", b"x" * 40, b"crlf\r", b"y" * 41, b"z" * 200, b"last"]
    for tail in (b"", b"\n"):
        path = tmp_path / "data.jsonl"
        path.write_bytes(b"\n".join(lines) + tail)
        got = [(r.line, r.data, r.end_offset, r.size, r.oversize) for r in iter_jsonl(path, max_line_bytes=40)]
        assert got == readline_reference(path, 40)


def test_resuming_from_an_offset(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"a\nbb\nccc\n")
    rows = list(iter_jsonl(path))
    resumed = list(iter_jsonl(path, start_line=rows[0].line + 1, start_offset=rows[0].end_offset))
    assert [(r.line, r.data) for r in resumed] == [(2, b"bb"), (3, b"ccc")]
