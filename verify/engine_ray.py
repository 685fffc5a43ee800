"""The Ray engine: `verify run --engine ray`, with outputs identical to the local engine's.

Reading: Ray Data reads JSONL / Parquet (a local path or an fsspec URL) in pieces with exact line
numbers (`verify.ray_source`), streaming blocks of at most a chunk's size in input order.
Verifying: each block goes to a Ray task (`verify.ray_worker.verify_block`) that runs the
"process" checks and, on its node's `NodeChecks` actor, the "main" ones (code, translation).
Ordering: the driver submits blocks in input order, keeps at most 2 × the cluster's CPUs in
flight, and hands results to the pipeline in that order, checking that line numbers follow on.
The pipeline then does what it does for every engine: duplicate ids, "ordered" checks (dedup),
outputs, counts, progress commits for `--resume`, the manifest.

Why tasks the driver supervises rather than a Ray Data `map_batches`: Ray Data retries a block
whose worker died and then fails the whole dataset (or, for actor pools, retries forever), so a
row that kills its worker (a segfault, the OOM killer) would stop the run. Here, as in the local
engine, a block whose worker dies twice is re-run one row at a time and only the row that kills
its worker gets `error` verdicts (`<check>.worker_died`); the run goes on.

With no address the engine starts a private Ray instance bound to 127.0.0.1 (no dashboard, no
usage statistics) and stops it at the end; with `--ray-address` it joins that cluster.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import logging
import os
import socket
import sys
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from verify.chunk import ChunkConfig, ChunkResult
from verify.pipeline import CHUNK_BYTES, CHUNK_LINES, UsageError
from verify.reader import RawLine, input_kind

LOCAL_ADDRESS = "127.0.0.1"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CONNECT_TIMEOUT_S = 10.0
READ_CONCURRENCY_SHARE = 4  # at most one read task per this many CPUs: reading is light next to verifying
RAY_EXTRA_HINT = "pip install 'sft-verify[ray]'"


@dataclass(frozen=True)
class Work:
    """One block to verify: rows [start, stop) of an Arrow block in the object store.

    `meta` is the pipeline's chunk meta when the driver made the chunk; None when Ray Data read
    it, in which case the meta is built from the block itself.
    """

    block: Any
    start: int
    stop: int
    meta: Any = None


def chunk_rows(rows: int, size_bytes: int | None) -> int:
    """Rows per verification task for a block: a chunk's lines, fewer when rows are large on average."""
    if not rows or not size_bytes:
        return CHUNK_LINES
    return max(1, min(CHUNK_LINES, CHUNK_BYTES * rows // size_bytes))


def import_ray() -> Any:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # read when Ray starts; never report usage
    try:
        import ray
    except ImportError as exc:
        raise UsageError(f"--engine ray needs Ray: {RAY_EXTRA_HINT}") from exc
    return ray


def shipped_plugins(plugins: Iterable[str]) -> list[str]:
    """Files or folders of plug-in modules that no installed distribution provides.

    Ray ships these to every worker (runtime_env py_modules); an installed plug-in must be
    installed on every node, like sft-verify itself.
    """
    installed = importlib.metadata.packages_distributions()
    paths: list[str] = []
    for module in plugins:
        top = module.split(".")[0]
        if top in installed:
            continue
        spec = importlib.util.find_spec(top)
        if spec is None:
            raise UsageError(f"plug-in module {module!r} cannot be imported")
        location = list(spec.submodule_search_locations or []) or [spec.origin]
        if location[0] and location[0] not in paths:
            paths.append(str(location[0]))
    return paths


def connect(ray: Any, address: str | None, num_cpus: int, plugins: Iterable[str]) -> bool:
    """Join the cluster at `address`, or start a private instance on 127.0.0.1; True when this call started Ray.

    An already initialised Ray (a program that called `ray.init` itself) is used as it is: that
    program decides where Ray runs and how its workers import plug-ins.
    """
    if ray.is_initialized():
        return False
    if address:
        join_cluster(ray, address, plugins)
    else:
        start_local(ray, num_cpus)
    quiet_ray_data()
    return True


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a `host:port` or `ray://host:port` address; None for Ray's "auto"."""
    if address == "auto":
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--ray-address {address!r}: expected HOST:PORT (the head node's `ray start --head` port)")
    return host.strip("[]"), int(port)


@contextlib.contextmanager
def loopback_mode(ray: Any, on: bool) -> Iterator[None]:
    """Keep Ray on 127.0.0.1 while it starts or connects.

    `ray.init` replaces 127.0.0.1 with the machine's network address unless Ray runs in its
    single-machine mode (the mode it uses on macOS and Windows): a private instance would then
    listen on the network, and a cluster bound to 127.0.0.1 could not be reached at all.
    """
    if not on:
        yield
        return
    from ray._private import ray_constants

    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


def join_cluster(ray: Any, address: str, plugins: Iterable[str]) -> None:
    """Connect to a running cluster, shipping plug-in modules its workers cannot import."""
    target = split_address(address)
    if target is not None:
        try:
            socket.create_connection(target, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            # Checked here because ray.init waits indefinitely for a head node that never answers.
            raise UsageError(f"nothing answers at --ray-address {address}: {exc.strerror or exc}") from exc
    shipped = shipped_plugins(plugins)
    try:
        with loopback_mode(ray, target is not None and target[0] in LOOPBACK_HOSTS):
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING,
                     runtime_env={"py_modules": shipped} if shipped else None)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UsageError(
            f"cannot join the Ray cluster at {address}: {exc} (with token authentication, set "
            "RAY_AUTH_MODE=token and make the cluster's token available to this machine)"
        ) from exc


def start_local(ray: Any, num_cpus: int) -> None:
    """A private Ray instance whose every server listens on 127.0.0.1 only; anything else stops the run.

    Its workers inherit this process's environment (PYTHONPATH included) and working directory,
    so plug-ins import there as they do here and nothing is shipped.
    """
    # Ray says at every start that it made a token for this private instance: true, and not news.
    token_logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    token_level = token_logger.level
    token_logger.setLevel(logging.ERROR)
    try:
        with loopback_mode(ray, True):
            ray.init(address="local", _node_ip_address=LOCAL_ADDRESS, num_cpus=num_cpus, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)
    finally:
        token_logger.setLevel(token_level)
    addresses = {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
    if addresses != {LOCAL_ADDRESS}:
        ray.shutdown()
        raise UsageError(f"the local Ray instance listens on {sorted(addresses)}, not only {LOCAL_ADDRESS}; stopped it")


def quiet_ray_data() -> None:
    """Ray Data logs each run's plan and timing at INFO; the pipeline reports progress itself."""
    import ray.data  # noqa: F401  (configures Ray Data's loggers, which are then turned down)

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"


class RayEngine:
    def __init__(self, config: ChunkConfig, workers: int, address: str | None = None) -> None:
        if workers < 1 and not address:
            raise UsageError("--workers must be at least 1 with --engine ray (it is the local Ray instance's CPUs)")
        self.ray = import_ray()
        self.started = connect(self.ray, address, workers, config.plugins)
        # Ray's driver prints cluster events ("a worker died ...") on stdout, which belongs to `--json`.
        self.stdout_to_stderr = contextlib.redirect_stdout(sys.stderr)
        self.stdout_to_stderr.__enter__()
        try:
            from verify import ray_worker

            self.rw = ray_worker
            self.driver_node = self.ray.get_runtime_context().get_node_id()
            cpus = int(self.ray.cluster_resources().get("CPU", 0))
            if cpus < 1:
                raise UsageError("the Ray cluster has no CPUs to run verification tasks on")
            self.window = 2 * cpus
            self.read_concurrency = max(1, cpus // READ_CONCURRENCY_SHARE)
            # "main" checks run on each node's NodeChecks actor, not in the task: see verify.ray_worker.
            self.chunk_config = replace(config, run_here=("process",))
            self.coordinator = ray_worker.Coordinator.options(
                scheduling_strategy=ray_worker.pinned(self.driver_node)
            ).remote(config.cache_path, config.options, config.plugins, self.driver_node)
        except BaseException:
            self._disconnect()
            raise
        self.token = ""
        self.works: Iterable[Work] = ()
        self.job_box: list[Any] = []
        self.changed: frozenset[int] | None = None
        self.next_line = 1

    # ---- the two ways in ---------------------------------------------------------------------------
    def read_ordered(self, source: Path | str, next_line: int, offset: int, changed_lines: frozenset[int] | None,
                     driver_chunks: Callable[[], Iterable[tuple[Any, list[RawLine]]]]
                     ) -> Iterator[tuple[Any, ChunkResult]]:
        """(meta, result) for the input from line `next_line` (at byte `offset`) on, read by Ray Data.

        A saved Hugging Face dataset (a folder of Arrow files on the driver) is read by the driver
        instead (`driver_chunks`): it is memory-mapped there and cheap to read.
        """
        kind = input_kind(Path(source))
        if kind == "hf-dataset":
            return self.map_ordered(driver_chunks())
        self._start_job(changed_lines, next_line)
        pieces, local = self._plan(str(source), kind, next_line, offset)
        return self._ordered(self._ray_data_blocks(pieces, local))

    def map_ordered(self, chunks: Iterable[tuple[Any, list[RawLine]]]) -> Iterator[tuple[Any, ChunkResult]]:
        """The Engine interface: chunks the driver read, verified on the cluster, yielded in order."""
        from verify.ray_source import lines_to_table

        self._start_job(None, None)
        # A chunk that only carries the input position has no block and needs no task.
        works = (Work(self.ray.put(lines_to_table(lines)) if lines else None, 0, len(lines), meta)
                 for meta, lines in chunks)
        return self._ordered(works)

    # ---- planning and reading -------------------------------------------------------------------------
    def _start_job(self, changed_lines: frozenset[int] | None, next_line: int | None) -> None:
        self.token = uuid.uuid4().hex
        self.changed = changed_lines
        self.next_line = next_line or 0
        job = self.rw.RayJob(self.token, self.chunk_config, self.driver_node, self.coordinator, changed_lines)
        self.job_box = [self.ray.put(job)]

    def _plan(self, source: str, kind: str, next_line: int, offset: int) -> tuple[list[Any], bool]:
        from verify import ray_source

        local = ray_source.is_local(source)
        if kind == "parquet":
            return ray_source.parquet_pieces(source, next_line), local
        fs, path = ray_source.open_source(source)
        size = fs.size(path)
        bounds = ray_source.range_bounds(offset, size, ray_source.RANGE_BYTES)
        counter = self.rw.count_newlines_task
        if local:
            counter = counter.options(scheduling_strategy=self.rw.pinned(self.driver_node))
        counts = self.ray.get([counter.remote(source, low, high) for low, high in ray_source.count_windows(bounds)])
        max_line_bytes = self.chunk_config.max_line_bytes
        pieces = ray_source.jsonl_pieces(source, size, next_line, offset, max_line_bytes, counts, ray_source.RANGE_BYTES)
        return pieces, local

    def _ray_data_blocks(self, pieces: list[Any], local: bool) -> Iterator[Work]:
        """Ray Data's blocks of the pieces, in input order (preserve_order), without fetching them here."""
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.enable_auto_log_stats = False
        # Ray Data joins the blocks a read task yields up to this size; the driver then cuts them into chunks.
        context.target_max_block_size = CHUNK_BYTES
        if not pieces:
            return
        dataset = ray.data.read_datasource(
            self.rw.InputDatasource(pieces, local),
            override_num_blocks=len(pieces),
            concurrency=self.read_concurrency,
            num_cpus=0,  # a read task waiting for the driver must not hold a CPU the verification tasks need
        )
        # iter_internal_ref_bundles hands out references to the blocks, so a block goes from the node
        # that read it to the node that verifies it by reference; this process also fetches each block
        # once (`_meta`), because it writes the kept lines' bytes and checks the line numbers.
        for bundle in dataset.iter_internal_ref_bundles():
            for entry, part in zip(bundle.blocks, bundle.slices, strict=True):
                rows = entry.metadata.num_rows
                if rows is None:
                    rows = self.ray.get(entry.ref).num_rows
                start, stop = (0, rows) if part is None else (part.start_offset, part.end_offset)
                step = chunk_rows(stop - start, entry.metadata.size_bytes)
                for low in range(start, stop, step):
                    yield Work(entry.ref, low, min(low + step, stop))

    # ---- verifying in order -----------------------------------------------------------------------
    def _ordered(self, works: Iterable[Work]) -> Iterator[tuple[Any, ChunkResult]]:
        self.works = works
        pending: deque[tuple[Work, Any]] = deque()
        for work in works:
            pending.append((work, self._submit(work)))
            if len(pending) >= self.window:
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    def _submit(self, work: Work, died: bool = False, retries: int | None = None) -> Any:
        if work.block is None:
            return None
        task = self.rw.verify_block if retries is None else self.rw.verify_block.options(max_retries=retries)
        return task.remote(self.token, self.job_box, work.block, work.start, work.stop, died)

    def _collect(self, work: Work, future: Any) -> tuple[Any, ChunkResult]:
        meta = work.meta if work.meta is not None else self._meta(work)
        if future is None:
            return meta, ChunkResult([], 0, 0)
        try:
            result = self.ray.get(future)
        except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.OutOfMemoryError):
            result = self._row_by_row(work)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, ModuleNotFoundError):
                raise UsageError(
                    f"a Ray worker cannot import {exc.cause.name!r}: every node needs sft-verify and the installed "
                    "plug-ins, in the versions used here; plug-in files outside any package are shipped to a cluster "
                    "named with --ray-address, and a private instance's workers see this PYTHONPATH and directory"
                ) from exc
            raise
        return meta, result

    def _meta(self, work: Work) -> tuple[int, int, int, list[RawLine]]:
        """The pipeline's chunk meta for a block Ray Data read: (last line, its end offset, unchanged, lines)."""
        from verify.ray_source import table_to_lines

        lines = table_to_lines(self.ray.get(work.block), work.start, work.stop)
        if lines[0].line != self.next_line:
            raise RuntimeError(f"Ray Data returned line {lines[0].line} where line {self.next_line} was due")
        last = lines[-1]
        self.next_line = last.line + 1
        verified = lines if self.changed is None else [raw for raw in lines if raw.line in self.changed]
        return last.line, last.end_offset, len(lines) - len(verified), verified

    def _row_by_row(self, work: Work) -> ChunkResult:
        """A block whose worker died twice: each row alone; a row that kills its worker gets error verdicts."""
        crashes = (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.OutOfMemoryError)
        singles = [Work(work.block, i, i + 1) for i in range(work.start, work.stop)]
        futures = [self._submit(single, retries=0) for single in singles]
        rows: list[Any] = []
        end_line = end_offset = 0
        for single, future in zip(singles, futures, strict=True):
            try:
                part = self.ray.get(future)
            except crashes:
                part = self.ray.get(self._submit(single, died=True))
            rows += part.rows
            if part.rows:
                end_line, end_offset = part.end_line, part.end_offset
        return ChunkResult(rows, end_line, end_offset)

    # ---- the end ------------------------------------------------------------------------------------
    def close(self) -> None:
        if isinstance(self.works, Generator):
            self.works.close()  # a run stopped early: let Ray Data stop its reads while Ray is still up
        try:
            self.ray.get(self.coordinator.close.remote(), timeout=180)
        except Exception:
            pass  # the actors go away with the job below; their containers stop when their stdin closes
        finally:
            self.ray.kill(self.coordinator)
            self._disconnect()

    def _disconnect(self) -> None:
        try:
            if self.started:
                self.ray.shutdown()
        finally:
            self.stdout_to_stderr.__exit__(None, None, None)
