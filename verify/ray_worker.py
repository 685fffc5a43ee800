"""What runs on the Ray cluster: the input datasource, the verification task and two actors.

- `InputDatasource`: Ray Data reads the input pieces (`verify.ray_source`) into blocks of lines.
  A local path is read only on the driver's node (it may exist nowhere else); a URL anywhere.
- `verify_block` (a task, one CPU): one block → `ChunkWorker.parse_and_verify` for the
  "process" checks, then the block's "main" checks on this node's `NodeChecks` actor. The
  `ChunkWorker` is built once per worker process and run, so verifiers start once.
- `NodeChecks` (an actor per node, no CPU reserved): the "main" verifiers of one node — the code
  check's container pool on that node's own Docker engine, sized to the node like a local run.
  One per node rather than one per task: N tasks each starting an N-container pool would start
  N² containers. A node without Docker gets `code.unavailable` error verdicts from it, never pass
  or fail, exactly as a local run without Docker does.
- `Coordinator` (one actor on the driver's node): hands out the `NodeChecks` actors and serves
  the verdict cache to nodes that cannot open the driver's cache file. As in a local run, a
  verdict is stored by whichever process computed it — on the driver's node straight into the
  file, elsewhere through the Coordinator — so one cache serves every node of the cluster.

"ordered" checks (dedup) never run here: the driver runs them in input order.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from verify import verifier as registry
from verify.cache import VerdictCache
from verify.chunk import (
    CheckSet,
    ChunkConfig,
    ChunkResult,
    ChunkWorker,
    RowResult,
    finalize,
    run_check,
    store_verdicts,
)
from verify.pipeline import CHUNK_BYTES, CHUNK_LINES
from verify.ray_source import BLOCK_SCHEMA, Piece, read_piece, table_to_lines
from verify.reader import RawLine
from verify.records import Record, Verdict, errored

NODE_CHECKS_DIED = "the node's process for this check died twice while verifying this chunk"


def pinned(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


@dataclass(frozen=True)
class RayJob:
    """What every task of one run needs; put in the object store once per run."""

    token: str
    chunk: ChunkConfig
    driver_node: str
    coordinator: Any  # the Coordinator actor handle
    changed_lines: frozenset[int] | None


# ---- reading ------------------------------------------------------------------------------------


def _read_blocks(piece: Piece) -> Iterable[pa.Table]:
    return read_piece(piece, CHUNK_LINES, CHUNK_BYTES)


class InputDatasource(Datasource):
    """The input's pieces as a Ray Data source; each read task streams one piece's blocks."""

    def __init__(self, pieces: Sequence[Piece], local: bool) -> None:
        super().__init__()
        self.pieces = list(pieces)
        self.local = local

    def get_name(self) -> str:
        return "VerifyInput"

    def estimate_inmemory_data_size(self) -> int:
        return sum(piece.size_bytes for piece in self.pieces)

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context: Any = None) -> list[ReadTask]:
        return [
            ReadTask(
                functools.partial(_read_blocks, piece),
                BlockMetadata(num_rows=None, size_bytes=piece.size_bytes, exec_stats=None, input_files=None),
                schema=BLOCK_SCHEMA,
            )
            for piece in self.pieces
        ]

    @property
    def supports_distributed_reads(self) -> bool:
        return not self.local


@ray.remote(num_cpus=0)
def count_newlines_task(source: str, start: int, end: int) -> int:
    from verify.ray_source import count_newlines

    return count_newlines(source, start, end)


# ---- the verdict cache ----------------------------------------------------------------------------


class CoordinatorCache:
    """The driver's verdict cache seen from a node that cannot open its file: the Coordinator's."""

    def __init__(self, coordinator: Any) -> None:
        self.coordinator = coordinator

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Verdict]:
        return ray.get(self.coordinator.cache_get.remote(list(keys)))

    def put_many(self, items: Iterable[tuple[bytes, Verdict]]) -> None:
        items = [(key, verdict) for key, verdict in items if verdict.status != "error"]
        if items:
            ray.get(self.coordinator.cache_put.remote(items))

    def close(self) -> None:
        """Nothing to release: the Coordinator owns the file."""


def cache_reader(cache_path: str | None, driver_node: str, coordinator: Any) -> VerdictCache | CoordinatorCache | None:
    """The driver's cache file on the driver's node; the Coordinator anywhere else; None without a cache.

    Another node may hold a file at the same path (its own user's cache): it is not this run's cache.
    """
    if cache_path is None:
        return None
    if ray.get_runtime_context().get_node_id() == driver_node:
        return VerdictCache(Path(cache_path))
    return CoordinatorCache(coordinator)


# ---- actors ----------------------------------------------------------------------------------------


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1)
class NodeChecks:
    """The "main" verifiers of one node, called by every verification task on that node in turn."""

    def __init__(self, options: dict[str, dict[str, Any]], plugins: tuple[str, ...], cache_path: str | None,
                 driver_node: str, coordinator: Any) -> None:
        registry.import_plugins(plugins)
        self.checks = CheckSet(options)
        self.cache = cache_reader(cache_path, driver_node, coordinator)

    def run(self, name: str, items: list[tuple[Record, dict[str, Any]]]) -> tuple[list[Verdict], list[bool]]:
        return run_check(self.checks, name, items, self.cache)  # type: ignore[arg-type]

    def close(self) -> None:
        self.checks.close()
        if self.cache is not None:
            self.cache.close()


@ray.remote(num_cpus=0, max_concurrency=16)
class Coordinator:
    """Lives on the driver's node for one run: NodeChecks actors per node, and cache lookups."""

    def __init__(self, cache_path: str | None, options: dict[str, dict[str, Any]], plugins: tuple[str, ...],
                 driver_node: str) -> None:
        self.cache_path = cache_path
        self.options = options
        self.plugins = plugins
        self.driver_node = driver_node
        self.cache = VerdictCache(Path(cache_path)) if cache_path else None
        self.cache_lock = threading.Lock()
        self.nodes: dict[str, Any] = {}
        self.nodes_lock = threading.Lock()

    def cache_get(self, keys: list[bytes]) -> dict[bytes, Verdict]:
        if self.cache is None:
            return {}
        with self.cache_lock:
            return self.cache.get_many(keys)

    def cache_put(self, items: list[tuple[bytes, Verdict]]) -> None:
        if self.cache is not None:
            with self.cache_lock:
                self.cache.put_many(items)

    def node_checks(self, node_id: str) -> Any:
        """This node's NodeChecks actor, started on first request; it lives as long as this actor."""
        with self.nodes_lock:
            if node_id not in self.nodes:
                me = ray.get_runtime_context().current_actor
                self.nodes[node_id] = NodeChecks.options(scheduling_strategy=pinned(node_id)).remote(
                    self.options, self.plugins, self.cache_path, self.driver_node, me
                )
            return self.nodes[node_id]

    def close(self, timeout_s: float = 120) -> None:
        """Close every node's main verifiers (container pools) before the actors go away."""
        with self.nodes_lock:
            handles = list(self.nodes.values())
            self.nodes.clear()
        pending = [handle.close.remote() for handle in handles]
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=timeout_s)
        for handle in handles:
            ray.kill(handle)
        if self.cache is not None:
            self.cache.close()


# ---- the verification task --------------------------------------------------------------------------


class WorkerSide:
    """One run's verifiers in one Ray worker process (built on the process's first task)."""

    def __init__(self, job: RayJob) -> None:
        self.job = job
        self.node = ray.get_runtime_context().get_node_id()
        # The ChunkWorker would open the cache path on whatever node it runs; cache_reader decides instead.
        self.worker = ChunkWorker(replace(job.chunk, cache_path=None))
        self.worker.cache = cache_reader(job.chunk.cache_path, job.driver_node, job.coordinator)  # type: ignore[assignment]
        self.node_checks: Any = None

    def verify(self, lines: list[RawLine], died: bool) -> ChunkResult:
        changed = self.job.changed_lines
        if changed is not None:
            lines = [raw for raw in lines if raw.line in changed]
        if not lines:
            return ChunkResult([], 0, 0)
        rows = [self.worker.died_row(raw) for raw in lines] if died else self.worker.parse_and_verify(lines).rows
        self._main_checks([row for row in rows if isinstance(row, RowResult) and row.pending])
        rows = [finalize(row) if isinstance(row, RowResult) and row.kind == "record" and not row.pending else row
                for row in rows]
        return ChunkResult(rows, lines[-1].line, lines[-1].end_offset)

    def _main_checks(self, rows: list[RowResult]) -> None:
        """Run the rows' pending "main" checks on this node's NodeChecks actor; "ordered" ones stay pending."""
        names: list[str] = []
        for row in rows:
            for name in row.pending:
                if name not in names and self.worker.checks.runs_in(name) == "main":
                    names.append(name)
        for name in names:
            members = [row for row in rows if name in row.pending]
            verdicts, cached = self._run_on_node(name, [(row.record, row.specs[name]) for row in members])
            store_verdicts(members, name, verdicts, cached)
            for row in members:
                row.pending.remove(name)

    def _run_on_node(self, name: str, items: list[tuple[Any, dict[str, Any]]]) -> tuple[list[Verdict], list[bool]]:
        if self.node_checks is None:
            self.node_checks = ray.get(self.job.coordinator.node_checks.remote(self.node))
        for _ in range(2):  # the actor restarts after a crash; a second crash gives up on this chunk
            try:
                return ray.get(self.node_checks.run.remote(name, items))
            except ray.exceptions.RayActorError:
                continue
        verdicts = [errored(name, NODE_CHECKS_DIED, f"{name}.worker_died") for _ in items]
        return verdicts, [False] * len(items)

    def close(self) -> None:
        self.worker.close()


_SIDES: dict[str, WorkerSide] = {}


def _side(token: str, job_box: list[Any]) -> WorkerSide:
    """This process's WorkerSide for the run; a newer run's first task closes the older one's."""
    side = _SIDES.get(token)
    if side is None:
        for old in _SIDES.values():
            old.close()
        _SIDES.clear()
        side = _SIDES[token] = WorkerSide(ray.get(job_box[0]))
    return side


@ray.remote(num_cpus=1, max_retries=1)
def verify_block(token: str, job_box: list[Any], block: pa.Table, start: int, stop: int, died: bool) -> ChunkResult:
    """Verify rows [start, stop) of a block. `job_box` holds the RayJob's reference unresolved, so a
    worker fetches it once per run, not once per task. Ray retries once if the worker dies."""
    return _side(token, job_box).verify(table_to_lines(block, start, stop), died)
