"""Turning a chunk of raw lines into records and verdicts — the work every engine shares.

`ChunkWorker.parse_and_verify` runs wherever the engine puts it (a local worker process, the
main process with `--workers 0`, a Ray task): it parses lines, applies the input adapter,
validates check names, and runs the "process" verifiers (cache first). Checks that must run in
the main process ("main", "ordered") are left pending for the engine to finish in order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify import verifier as registry
from verify.cache import VerdictCache, cache_key
from verify.formats import ADAPTERS, to_record
from verify.manifest import row_hash
from verify.outcome import classify, verdict_row
from verify.reader import DEFAULT_MAX_LINE_BYTES, RawLine
from verify.records import Record, RecordError, Verdict, errored
from verify.verifier import Verifier, VerifierUnavailable, crash_verdict


@dataclass(frozen=True)
class ChunkConfig:
    """Everything a worker needs, picklable: the format, checks, options, cache and plug-ins."""

    format: str
    file_checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_path: str | None = None
    plugins: tuple[str, ...] = ()
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    # Which verifier kinds run where this chunk is processed. Locally, "main" verifiers (a container
    # pool, a GPU model) stay in the main process; a Ray worker runs them on its own node.
    run_here: tuple[str, ...] = ("process",)


@dataclass(slots=True)
class RowResult:
    line: int
    raw: bytes
    kind: str  # "blank" | "invalid" | "record"
    error_code: str = ""
    error: str = ""
    record: Record | None = None
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    cached: dict[str, bool] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    def invalidate(self, code: str, error: str) -> None:
        self.kind, self.error_code, self.error = "invalid", code, error
        self.record, self.verdicts, self.pending = None, {}, []


# A finished row travels between processes as a plain tuple (pickling dataclasses cost ~30 µs a
# row, more than verifying it): ("done", line, id, outcome, summaries, payload) where payload is
# the kept row's sha256 or the output line for rejected / errors / unchecked, and each summary is
# (check, status, code, reason, seconds, cached).
Summary = tuple[str, str, str, str, float, bool]
DoneRow = tuple[str, int, str, str, list[Summary], "str | bytes"]


def finalize(row: RowResult) -> DoneRow:
    """A record row whose every check has a verdict → its outcome, summaries and output payload."""
    record = row.record
    assert record is not None and not row.pending
    verdicts = [row.verdicts[name] for name in row.specs]
    outcome = classify(verdicts)
    payload: str | bytes = row_hash(row.raw) if outcome == "kept" else verdict_row(record, verdicts)
    summaries = [
        (v.check, v.status, v.code, v.reason if v.status in ("fail", "error") else "", v.seconds,
         row.cached.get(v.check, False))
        for v in verdicts
    ]
    return ("done", row.line, record.id, outcome, summaries, payload)


@dataclass(slots=True)
class ChunkResult:
    rows: list[RowResult | DoneRow]
    end_line: int
    end_offset: int


WORKER_DIED = "the worker process died while verifying this row (crash or out of memory)"


def store_verdicts(rows: Sequence[RowResult], name: str, verdicts: Sequence[Verdict], cached: Sequence[bool]) -> None:
    """Put one check's verdicts (from `run_check`) on the rows they were computed for."""
    for row, verdict, was_cached in zip(rows, verdicts, cached, strict=True):
        row.verdicts[name] = verdict
        row.cached[name] = was_cached


def unavailable_verdict(check: str, message: str) -> Verdict:
    return errored(check, message, f"{check}.unavailable")


class CheckSet:
    """Builds verifiers on first use and remembers which cannot be built here, and why."""

    def __init__(self, options: dict[str, dict[str, Any]]) -> None:
        self.options = options
        self.built: dict[str, Verifier] = {}
        self.unavailable: dict[str, str] = {}
        self.classes: dict[str, type[Verifier] | None] = {}

    def cls(self, name: str) -> type[Verifier] | None:
        """The verifier class, or None when it cannot be imported (recorded as unavailable)."""
        if name not in self.classes:
            try:
                self.classes[name] = registry.get(name)
            except KeyError:
                raise
            except Exception as exc:  # a plug-in that fails to import makes its check unavailable
                self.classes[name] = None
                self.unavailable[name] = f"verifier {name!r} cannot be imported: {type(exc).__name__}: {exc}"
        return self.classes[name]

    def runs_in(self, name: str) -> str:
        cls = self.cls(name)
        return "process" if cls is None else cls.runs_in

    def get(self, name: str) -> Verifier | None:
        if name in self.built:
            return self.built[name]
        if name in self.unavailable:
            return None
        cls = self.cls(name)
        if cls is None:
            return None
        try:
            self.built[name] = cls(self.options.get(name, {}))
        except VerifierUnavailable as exc:
            self.unavailable[name] = str(exc)
            return None
        except Exception as exc:
            self.unavailable[name] = f"verifier {name!r} could not start: {type(exc).__name__}: {exc}"
            return None
        return self.built[name]

    def close(self) -> None:
        for verifier in self.built.values():
            try:
                verifier.close()
            except Exception:
                pass
        self.built.clear()


def run_check(checks: CheckSet, name: str, items: Sequence[tuple[Record, dict[str, Any]]],
              cache: VerdictCache | None) -> tuple[list[Verdict], list[bool]]:
    """Verdicts for one check over many records: cache first, then the verifier in one batch.

    Returns the verdicts in order and which of them came from the cache; new decided verdicts are
    stored in the cache right here, by whichever process computed them. A verifier that raises
    turns into `error` verdicts, never pass or fail.
    """
    verifier = checks.get(name)
    if verifier is None:
        message = checks.unavailable[name]
        return [unavailable_verdict(name, message) for _ in items], [False] * len(items)
    keys: list[bytes] = []
    found: dict[bytes, Verdict] = {}
    use_cache = cache is not None and verifier.cacheable
    if use_cache:
        fingerprint = verifier.config_fingerprint()
        keys = [cache_key(name, verifier.version, fingerprint, verifier.cache_material(r, s)) for r, s in items]
        found = cache.get_many(keys)
    missing = [i for i in range(len(items)) if not use_cache or keys[i] not in found]
    computed = verify_items(verifier, [items[i] for i in missing])
    verdicts: list[Verdict] = [None] * len(items)  # type: ignore[list-item]
    cached = [False] * len(items)
    for i, verdict in zip(missing, computed, strict=True):
        verdicts[i] = verdict
    if use_cache:
        cache.put_many([(keys[i], verdicts[i]) for i in missing])  # type: ignore[union-attr]
        for i in range(len(items)):
            if verdicts[i] is None:
                verdicts[i] = found[keys[i]]
                cached[i] = True
    return verdicts, cached


def verify_items(verifier: Verifier, items: Sequence[tuple[Record, dict[str, Any]]]) -> list[Verdict]:
    """`verify_batch`, guarded: a crash or a wrong-length answer falls back to one record at a time."""
    if not items:
        return []
    try:
        verdicts = verifier.verify_batch(items)
        if len(verdicts) == len(items) and all(v.check == verifier.name for v in verdicts):
            return list(verdicts)
    except Exception:
        pass
    out = []
    for record, spec in items:
        started = time.perf_counter()
        try:
            verdict = verifier.verify(record, spec)
            if verdict.check != verifier.name:
                raise ValueError(f"returned a verdict for check {verdict.check!r}")
        except Exception as exc:
            verdict = crash_verdict(verifier.name, exc)
        out.append(verdict.with_seconds(time.perf_counter() - started))
    return out


class LineParser:
    """One raw line → a record row (or a blank / invalid row with the reason), as `verify run` reads it."""

    def __init__(self, config: ChunkConfig) -> None:
        registry.import_plugins(config.plugins)
        self.config = config
        self.adapter = ADAPTERS[config.format]
        self.known = set(registry.names())

    def parse(self, raw: RawLine) -> RowResult:
        row = RowResult(raw.line, raw.data, "record")
        if raw.oversize:
            row.invalidate(
                "invalid.too_long",
                f"line is {raw.size:,} bytes; the limit is {self.config.max_line_bytes:,} (--max-line-bytes)",
            )
            return row
        if not raw.data.strip():
            row.kind = "blank"
            return row
        try:
            text = raw.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            row.invalidate("invalid.utf8", f"invalid UTF-8 at byte {exc.start}: {exc.reason}")
            return row
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            row.invalidate("invalid.json", f"malformed JSON: {exc.msg} at column {exc.colno}")
            return row
        except RecursionError:
            row.invalidate("invalid.json", "malformed JSON: nested too deeply")
            return row
        try:
            record = to_record(value, raw.line, self.adapter)
        except RecordError as exc:
            code = "invalid.not_object" if not isinstance(value, dict) else "invalid.record"
            row.invalidate(code, str(exc))
            return row
        specs = dict(record.checks)
        for name, spec in self.config.file_checks.items():
            specs.setdefault(name, dict(spec))
        unknown = sorted(name for name in specs if name not in self.known)
        if unknown:
            row.invalidate(
                "invalid.unknown_check",
                f"unknown check {unknown[0]!r}; known checks: {', '.join(sorted(self.known))}",
            )
            return row
        row.record, row.specs = record, specs
        return row


class ChunkWorker:
    def __init__(self, config: ChunkConfig) -> None:
        self.config = config
        self.parser = LineParser(config)
        self.parse = self.parser.parse
        self.checks = CheckSet(config.options)
        self.cache: VerdictCache | None = None
        if config.cache_path:
            self.cache = VerdictCache(Path(config.cache_path))

    def died_row(self, raw: RawLine) -> RowResult:
        """A row whose verification killed its worker: its process checks error, the rest still run."""
        row = self.parse(raw)
        for name in row.specs:
            if self.checks.runs_in(name) == "process":
                row.verdicts[name] = errored(name, WORKER_DIED, f"{name}.worker_died")
                row.cached[name] = False
            else:
                row.pending.append(name)
        return row

    def parse_and_verify(self, lines: Sequence[RawLine]) -> ChunkResult:
        if not lines:  # a chunk that only carries the input position (see Pipeline._chunks)
            return ChunkResult([], 0, 0)
        rows = [self.parse(raw) for raw in lines]
        by_check: dict[str, list[RowResult]] = {}
        for row in rows:
            for name in row.specs:
                if self.checks.runs_in(name) in self.config.run_here:
                    by_check.setdefault(name, []).append(row)
                else:
                    row.pending.append(name)
        for name, members in by_check.items():
            items = [(row.record, row.specs[name]) for row in members]
            verdicts, cached = run_check(self.checks, name, items, self.cache)  # type: ignore[arg-type]
            store_verdicts(members, name, verdicts, cached)
        out: list[RowResult | DoneRow] = [
            finalize(row) if row.kind == "record" and not row.pending else row for row in rows
        ]
        last = lines[-1]
        return ChunkResult(out, last.line, last.end_offset)

    def close(self) -> None:
        self.checks.close()
        if self.cache is not None:
            self.cache.close()


_WORKER: ChunkWorker | None = None


def init_process(config: ChunkConfig) -> None:
    """Pool initializer: one ChunkWorker per worker process, verifiers built on first use.

    The worker asks to be killed with its parent: a SIGKILLed `verify run` leaves no workers behind.
    """
    from verify.killable import die_with_parent

    die_with_parent()
    global _WORKER
    _WORKER = ChunkWorker(config)


def process_chunk(lines: Sequence[RawLine]) -> ChunkResult:
    assert _WORKER is not None, "init_process was not called in this worker"
    return _WORKER.parse_and_verify(lines)
