"""The manifest: the receipt of a run, and the only way rows reach the trainer (DESIGN.md §3, §6).

`manifest.json` records the tool version, the input's path and sha256, the configuration,
each verifier's name@version, and the sha256 of `kept.jsonl` and of every kept row. A row's
hash is the sha256 of its bytes in `kept.jsonl` without the final newline.

`vouched_records` is what the trainer reads: it refuses a directory that is not a run's output,
a `kept.jsonl` whose hash differs, and any row whose hash the manifest does not list, naming
the first offending line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from verify.formats import ADAPTERS, to_record
from verify.records import Record, RecordError

MANIFEST = "manifest.json"
KEPT = "kept.jsonl"
MANIFEST_SCHEMA = 1


class ManifestError(RuntimeError):
    """The directory or one of its rows is not vouched for; the message names what and where."""


def row_hash(line: bytes) -> str:
    """The sha256 of one kept row: its bytes without the trailing newline."""
    if line.endswith(b"\n"):
        line = line[:-1]
    return hashlib.sha256(line).hexdigest()


def file_sha256(path: Path | str) -> str:
    from verify.reader import open_input

    digest = hashlib.sha256()
    with open_input(path) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(out_dir: Path, header: dict[str, Any], kept_hashes_path: Path, kept_rows: int) -> Path:
    """Write manifest.json, streaming the per-row hashes from a file (one hex digest per line)
    so that a 10M-row run never holds them all in memory."""
    kept_path = out_dir / KEPT
    kept = {"path": KEPT, "sha256": file_sha256(kept_path), "rows": kept_rows}
    body = dict(header, schema=MANIFEST_SCHEMA, kept=kept)
    target = out_dir / MANIFEST
    partial = target.with_suffix(".json.partial")
    with open(partial, "w", encoding="utf-8") as out:
        text = json.dumps(body, indent=2, ensure_ascii=False)
        assert text.endswith("}\n}") or text.endswith("}")
        # Splice the row list into the "kept" object: '"kept": {...}' is the last member.
        head, _, _ = text.rpartition("}")
        head = head.rstrip()
        assert head.endswith("}")
        out.write(head[:-1].rstrip() + ',\n    "row_sha256": [')
        first = True
        with open(kept_hashes_path, encoding="ascii") as hashes:
            for digest in hashes:
                digest = digest.strip()
                if not digest:
                    continue
                out.write(("\n      " if first else ",\n      ") + json.dumps(digest))
                first = False
        out.write("\n    ]\n  }\n}\n")
    partial.replace(target)
    return target


def load_manifest(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / MANIFEST
    if not Path(out_dir).is_dir():
        raise ManifestError(f"{out_dir} is not a directory; pass the output folder of `verify run`")
    if not path.exists():
        raise ManifestError(f"{out_dir} has no {MANIFEST}: it is not a `verify run` output directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("tool") != "sft-verify" or "kept" not in manifest:
        raise ManifestError(f"{path} is not an sft-verify manifest")
    return manifest


def vouched_lines(out_dir: Path) -> Iterator[tuple[int, bytes]]:
    """(line number in kept.jsonl, row bytes) for every kept row, after checking every hash."""
    out_dir = Path(out_dir)
    manifest = load_manifest(out_dir)
    kept_path = out_dir / manifest["kept"].get("path", KEPT)
    if not kept_path.exists():
        raise ManifestError(f"{kept_path} is missing")
    listed = set(manifest["kept"].get("row_sha256", []))
    file_ok = file_sha256(kept_path) == manifest["kept"].get("sha256")
    rows: list[tuple[int, bytes]] = []
    with open(kept_path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if row_hash(line) not in listed:
                raise ManifestError(
                    f"{kept_path}:{number}: this row is not vouched for by {MANIFEST} "
                    "(changed or added after `verify run`); re-run `verify run` on the data"
                )
            rows.append((number, line.rstrip(b"\n")))
    if not file_ok:
        raise ManifestError(
            f"{kept_path}: its sha256 differs from {MANIFEST} (rows removed, reordered or duplicated "
            "after `verify run`); re-run `verify run` on the data"
        )
    yield from rows


def vouched_records(out_dir: Path) -> Iterator[Record]:
    """Canonical records for the vouched rows, converted with the format the run used."""
    manifest = load_manifest(Path(out_dir))
    adapter = ADAPTERS[manifest.get("input", {}).get("format", "messages")]
    for number, line in vouched_lines(Path(out_dir)):
        try:
            yield to_record(json.loads(line), number, adapter)
        except (json.JSONDecodeError, RecordError) as exc:
            raise ManifestError(f"{KEPT}:{number}: {exc}") from exc
