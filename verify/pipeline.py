"""`verify run`: every input row through every applicable verifier, into exactly one output file.

The flow per chunk of lines: an engine parses the lines and runs the "process" verifiers
(in worker processes), then the main process, in input order, rejects duplicate ids, runs the
"main" and "ordered" verifiers, classifies each row, appends it to its file and counts it.
Progress is committed about once a second (files fsynced, then one SQLite transaction), which
is what makes `--resume` exact after a SIGKILL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from verify import __version__
from verify import verifier as registry
from verify.cache import VerdictCache, default_cache_path
from verify.changed_ids import ids_on_unchanged_lines
from verify.chunk import (
    CheckSet,
    ChunkConfig,
    ChunkResult,
    DoneRow,
    LineParser,
    RowResult,
    finalize,
    run_check,
    store_verdicts,
)
from verify.formats import ADAPTERS, detect
from verify.manifest import file_sha256, write_manifest
from verify.outcome import invalid_row
from verify.outputs import OutputFiles
from verify.reader import (
    DEFAULT_MAX_LINE_BYTES,
    InputError,
    RawLine,
    check_readable,
    input_kind,
    input_size,
    is_url,
    iter_input,
    sample_rows,
)
from verify.records import canonical_json, sha256_hex
from verify.report import write_reports
from verify.state import Progress, RunState
from verify.stats import RunStats

CHUNK_LINES = 1000
CHUNK_BYTES = 4 * 1024 * 1024
COMMIT_SECONDS = 1.0


class UsageError(RuntimeError):
    """A problem with how the run was asked for or its environment: exit code 2."""


class ProgressSink(Protocol):
    def start(self, total_bytes: int | None, done_bytes: int) -> None: ...
    def update(self, done_bytes: int, stats: RunStats) -> None: ...
    def message(self, text: str) -> None: ...
    def finish(self, stats: RunStats) -> None: ...


class SilentProgress:
    def start(self, total_bytes: int | None, done_bytes: int) -> None: ...
    def update(self, done_bytes: int, stats: RunStats) -> None: ...
    def message(self, text: str) -> None: ...
    def finish(self, stats: RunStats) -> None: ...


@dataclass
class RunConfig:
    input: Path | str  # a local path, or an fsspec URL (a str) such as s3://bucket/data.jsonl
    out_dir: Path
    format: str = "auto"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    file_checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    use_cache: bool = True
    cache_path: Path | None = None
    resume: bool = False
    changed_lines: frozenset[int] | None = None
    changed_since: str | None = None
    plugins: tuple[str, ...] = ()
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    engine: str = "local"
    engine_options: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        """What must be equal for `--resume` to continue a run (recorded in the manifest too)."""
        return {
            "format": self.format,
            "file_checks": self.file_checks,
            "options": self.options,
            "changed_since": self.changed_since,
            "max_line_bytes": self.max_line_bytes,
            "plugins": list(self.plugins),
        }


@dataclass
class RunResult:
    stats: RunStats
    out_dir: Path
    format: str
    format_reason: str
    unavailable: dict[str, str]
    seconds: float
    input_lines: int


class Engine(Protocol):
    def map_ordered(self, chunks: Any) -> Iterator[tuple[Any, ChunkResult]]: ...
    def close(self) -> None: ...


@runtime_checkable
class InputReadingEngine(Protocol):
    """An engine that reads the input itself (Ray Data on the cluster) from a resume position.

    It yields the same (meta, ChunkResult) pairs as `map_ordered`; `driver_chunks` gives it the
    driver's chunks for inputs it does not read itself.
    """

    def read_ordered(self, source: Path, next_line: int, offset: int, changed_lines: frozenset[int] | None,
                     driver_chunks: Any) -> Iterator[tuple[Any, ChunkResult]]: ...


def make_engine(config: RunConfig, chunk_config: ChunkConfig) -> Engine:
    if config.engine == "local":
        from verify.engine_local import LocalEngine

        return LocalEngine(chunk_config, config.workers)
    if config.engine == "ray":
        from verify.engine_ray import RayEngine

        return RayEngine(chunk_config, config.workers, **config.engine_options)
    raise UsageError(f"unknown engine {config.engine!r}; use 'local' or 'ray'")


def prepare_output_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"output directory {out_dir} is not writable: {exc.strerror or exc}") from exc


def choose_format(config: RunConfig) -> tuple[str, str]:
    if config.format != "auto":
        if config.format not in ADAPTERS:
            raise UsageError(f"unknown format {config.format!r}; choose from auto, {', '.join(ADAPTERS)}")
        return config.format, "forced with --format"
    return detect(sample_rows(config.input))


class Pipeline:
    def __init__(self, config: RunConfig, progress: ProgressSink | None = None) -> None:
        self.config = config
        self.progress = progress or SilentProgress()
        registry.import_plugins(config.plugins)
        self.checks = CheckSet(config.options)
        self.opened_ordered: set[str] = set()
        self.cache: VerdictCache | None = None
        self.ids_unchanged: dict[str, int] = {}  # --changed-since: ids of changed lines that unchanged lines use

    # ---- setup -------------------------------------------------------------------------------
    def _validate(self) -> None:
        try:
            check_readable(self.config.input)
            input_kind(self.config.input)
        except InputError as exc:
            raise UsageError(str(exc)) from exc
        known = set(registry.names())
        for name in list(self.config.file_checks) + list(self.config.options):
            if name not in known:
                raise UsageError(f"unknown check {name!r}; known checks: {', '.join(sorted(known))}")
        for name, options in self.config.options.items():
            try:
                registry.get(name).Options(**options)
            except KeyError:
                continue
            except Exception as exc:
                raise UsageError(f"invalid options for {name}: {exc}") from exc
        prepare_output_dir(self.config.out_dir)

    def run(self) -> RunResult:
        started = time.perf_counter()
        config = self.config
        self._validate()
        input_sha = file_sha256(config.input) if is_url(config.input) or Path(config.input).is_file() else None
        fmt, reason = choose_format(config)
        self.progress.message(f"format: {fmt} ({reason})")
        run_id = {"input_sha256": input_sha, **config.fingerprint(), "format": fmt}
        state = RunState(config.out_dir, fresh=not config.resume)
        progress = self._resume_point(state, run_id)
        stats = RunStats.from_json(progress.stats) if progress else RunStats()
        files = OutputFiles(config.out_dir, progress.file_sizes if progress else None)
        if config.use_cache:
            self.cache = VerdictCache(config.cache_path or default_cache_path())
        chunk_config = ChunkConfig(
            format=fmt,
            file_checks=config.file_checks,
            options=config.options,
            cache_path=str(self.cache.path) if self.cache else None,
            plugins=config.plugins,
            max_line_bytes=config.max_line_bytes,
        )
        next_line, offset = (progress.next_line, progress.offset) if progress else (1, 0)
        total = input_size(config.input)
        self.progress.start(total, offset)
        finished = bool(progress and progress.finished)
        # Resuming a finished run only rewrites its reports: no worker pool or Ray cluster is started.
        engine = None if finished else make_engine(config, chunk_config)
        last_commit = time.monotonic()
        try:
            if engine is not None:
                if config.changed_lines is not None:
                    self.ids_unchanged = ids_on_unchanged_lines(config.input, config.changed_lines,
                                                                LineParser(chunk_config))
                for (end_line, end_offset, unchanged, lines), result in self._results(engine, next_line, offset):
                    stats.unchanged += unchanged
                    self._finish_chunk(lines, result, state, files, stats)
                    next_line, offset = end_line + 1, end_offset
                    if time.monotonic() - last_commit >= COMMIT_SECONDS:
                        self._commit(state, files, stats, next_line, offset, finished=False)
                        last_commit = time.monotonic()
                    self.progress.update(offset, stats)
                self._commit(state, files, stats, next_line, offset, finished=True)
        finally:
            if engine is not None:
                engine.close()
            files.close()
            self.checks.close()
            if self.cache:
                self.cache.close()
        input_lines = next_line - 1
        seconds = time.perf_counter() - started
        # A check is unavailable when any row got its `<check>.unavailable` verdict (this run or the resumed one).
        unavailable = {
            name: check.reasons[f"{name}.unavailable"].example
            for name, check in stats.checks.items()
            if f"{name}.unavailable" in check.reasons
        }
        result = RunResult(stats, config.out_dir, fmt, reason, unavailable, seconds, input_lines)
        self._write_outputs(result, input_sha, state)
        state.close()
        self.progress.finish(stats)
        return result

    def _resume_point(self, state: RunState, run_id: dict[str, Any]) -> Progress | None:
        if not self.config.resume:
            state.set("run", run_id)
            return None
        recorded = state.get("run")
        progress = state.progress()
        if recorded is None or progress is None:
            self.progress.message("resume: no committed progress in the output directory; starting from line 1")
            state.set("run", run_id)
            return None
        if recorded != run_id:
            differing = sorted(k for k in set(recorded) | set(run_id) if recorded.get(k) != run_id.get(k))
            raise UsageError(
                f"cannot resume: the input or configuration changed since the interrupted run ({', '.join(differing)}); "
                "run again without --resume"
            )
        self.progress.message(f"resume: continuing at line {progress.next_line}")
        return progress

    def _results(self, engine: Engine, next_line: int, offset: int) -> Iterator[tuple[Any, ChunkResult]]:
        """(meta, result) pairs in input order, from the resume position on."""
        if isinstance(engine, InputReadingEngine):
            return engine.read_ordered(self.config.input, next_line, offset, self.config.changed_lines,
                                       lambda: self._chunks(next_line, offset))
        return engine.map_ordered(self._chunks(next_line, offset))

    def _chunks(self, next_line: int, offset: int) -> Iterator[tuple[tuple[int, int, int, list[RawLine]], list[RawLine]]]:
        """Chunks of lines to verify, each with (last line read, its end offset, unchanged lines skipped, lines)."""
        changed = self.config.changed_lines
        lines: list[RawLine] = []
        size = 0
        unchanged = 0
        last: RawLine | None = None
        for raw in iter_input(self.config.input, next_line, offset, self.config.max_line_bytes):
            last = raw
            if changed is not None and raw.line not in changed:
                unchanged += 1
                continue
            lines.append(raw)
            size += len(raw.data)
            if len(lines) >= CHUNK_LINES or size >= CHUNK_BYTES:
                yield (raw.line, raw.end_offset, unchanged, lines), lines
                lines, size, unchanged = [], 0, 0
        if lines:
            yield (last.line, last.end_offset, unchanged, lines), lines  # type: ignore[union-attr]
        elif last is not None and unchanged:
            # Only unchanged lines after the last changed one: a chunk that just carries the position.
            yield (last.line, last.end_offset, unchanged, []), []

    # ---- per chunk ---------------------------------------------------------------------------
    def _finish_chunk(self, lines: list[RawLine], result: ChunkResult, state: RunState, files: OutputFiles,
                      stats: RunStats) -> None:
        """Finish a chunk in input order: duplicate ids, main-process checks, then write and count."""
        rows = result.rows
        self._reject_duplicate_ids(lines, rows, state)
        self._run_main_checks([row for row in rows if isinstance(row, RowResult)])
        out: dict[str, list[bytes]] = {name: [] for name in files.paths}
        add_row = stats.add_row
        for raw, row in zip(lines, rows, strict=True):
            if isinstance(row, RowResult):
                if row.kind == "blank":
                    stats.blank += 1
                    continue
                if row.kind == "invalid":
                    stats.add_invalid(row.line, row.error_code, row.error)
                    out["invalid"].append(invalid_row(row.line, raw.data, row.error))
                    continue
                row = finalize(row)
            _, line, record_id, outcome, summaries, payload = row
            add_row(outcome, line, record_id, summaries)
            if outcome == "kept":
                out["kept"].append(raw.data)
                out["hashes"].append(payload.encode("ascii"))  # type: ignore[union-attr]
            else:
                out[outcome].append(payload)  # type: ignore[arg-type]
        for name, written in out.items():
            files.write_lines(name, written)

    def _reject_duplicate_ids(self, lines: list[RawLine], rows: list[RowResult | DoneRow], state: RunState) -> None:
        """A row whose id an earlier row has is invalid; under --changed-since, so is a changed row
        whose id an unchanged row has (see verify.changed_ids)."""
        claims = []
        for index, row in enumerate(rows):
            if isinstance(row, tuple):
                record_id, line = row[2], row[1]
            elif row.kind == "record":
                record_id, line = row.record.id, row.line  # type: ignore[union-attr]
            else:
                continue
            elsewhere = self.ids_unchanged.get(record_id)
            if elsewhere is None:
                claims.append((index, record_id, line))
            else:
                rows[index] = duplicate_row(lines[index], f"line {elsewhere} uses it too and is not part of the change",
                                            record_id)
        taken = state.claim_ids([(record_id, line) for _, record_id, line in claims])
        for index, record_id, line in claims:
            first = taken.get(record_id)
            if first is not None and first != line:
                rows[index] = duplicate_row(lines[index], f"first used on line {first}", record_id)

    def _run_main_checks(self, rows: list[RowResult]) -> None:
        names: list[str] = []
        for row in rows:
            for name in row.pending:
                if name not in names:
                    names.append(name)
        # "main" verifiers first (batched, any order), then "ordered" ones in input order.
        names.sort(key=lambda n: self.checks.runs_in(n) == "ordered")
        for name in names:
            members = [row for row in rows if row.kind == "record" and name in row.pending]
            if not members:
                continue
            self._open_ordered(name)
            items = [(row.record, row.specs[name]) for row in members]
            verdicts, cached = run_check(self.checks, name, items, self.cache)  # type: ignore[arg-type]
            store_verdicts(members, name, verdicts, cached)
        for row in rows:
            row.pending = []

    def _open_ordered(self, name: str) -> None:
        if name in self.opened_ordered or self.checks.runs_in(name) != "ordered":
            return
        verifier = self.checks.get(name)
        if verifier is not None:
            state_dir = self.config.out_dir / ".verify-state" / name
            state_dir.mkdir(parents=True, exist_ok=True)
            verifier.open_state(state_dir, resume=self.config.resume)
        self.opened_ordered.add(name)

    def _commit(self, state: RunState, files: OutputFiles, stats: RunStats, next_line: int, offset: int,
                finished: bool) -> None:
        for name in self.opened_ordered:
            verifier = self.checks.built.get(name)
            if verifier is not None:
                verifier.checkpoint()
        sizes = files.sync()
        state.commit(Progress(next_line, offset, sizes, stats.to_json(), finished))

    # ---- outputs -----------------------------------------------------------------------------
    def _write_outputs(self, result: RunResult, input_sha: str | None, state: RunState) -> None:
        verifiers = []
        for name in sorted(result.stats.checks):
            cls = self.checks.cls(name)
            result.stats.checks[name].version = cls.version if cls else ""
            verifiers.append({
                "name": name,
                "version": cls.version if cls else None,
                "options": self.config.options.get(name, {}),
                "available": name not in result.unavailable,
            })
        header = {
            "tool": "sft-verify",
            "tool_version": __version__,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "input": {
                "path": str(self.config.input),
                "sha256": input_sha,
                "format": result.format,
                "lines": result.input_lines,
            },
            "config": self.config.fingerprint(),
            "config_sha256": sha256_hex(canonical_json(self.config.fingerprint())),
            "verifiers": verifiers,
            "counts": dict(result.stats.outcomes),
        }
        write_reports(result, header)
        write_manifest(self.config.out_dir, header, state.dir / "kept.sha256", result.stats.outcomes["kept"])


def duplicate_row(raw: RawLine, where: str, record_id: str) -> RowResult:
    row = RowResult(raw.line, raw.data, "record")
    row.invalidate("invalid.duplicate_id", f"duplicate id {record_id!r}: {where}")
    return row
