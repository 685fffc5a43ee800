"""The run's output files, appended in input order and cut back to a checkpoint on resume."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from verify.outcome import OUTPUT_FILES
from verify.state import STATE_DIR

KEPT_HASHES = "kept.sha256"  # inside the state folder: one hex digest per kept row, for the manifest


class OutputFiles:
    def __init__(self, out_dir: Path, sizes: dict[str, int] | None) -> None:
        """Open every output file; `sizes` (from a checkpoint) cuts each back, None starts empty."""
        self.paths: dict[str, Path] = {name: out_dir / file for name, file in OUTPUT_FILES.items()}
        self.paths["hashes"] = out_dir / STATE_DIR / KEPT_HASHES
        self.handles: dict[str, BinaryIO] = {}
        for name, path in self.paths.items():
            handle = open(path, "r+b" if sizes is not None and path.exists() else "w+b")
            if sizes is not None:
                handle.truncate(sizes.get(name, 0))
            handle.seek(0, os.SEEK_END)
            self.handles[name] = handle

    def write_lines(self, name: str, lines: list[bytes]) -> None:
        """Append lines (without their newlines) to one file in a single write."""
        if lines:
            lines.append(b"")
            self.handles[name].write(b"\n".join(lines))

    def sync(self) -> dict[str, int]:
        """Flush and fsync every file; return their sizes (the checkpoint's view of them)."""
        sizes = {}
        for name, handle in self.handles.items():
            handle.flush()
            os.fsync(handle.fileno())
            sizes[name] = handle.tell()
        return sizes

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
