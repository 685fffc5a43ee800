"""The local engine: chunks of lines through a pool of worker processes, results back in order.

At most `2 × workers` chunks are in flight, so memory stays flat however long the input. A worker
that dies (a segfault, the OOM killer) breaks the pool: the pool is rebuilt and the chunks in
flight are retried; a chunk that breaks it twice is re-run one row at a time so that only the
row that kills a worker gets an `error` verdict, and the run goes on.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from verify.chunk import ChunkConfig, ChunkResult, ChunkWorker, DoneRow, RowResult, init_process, process_chunk
from verify.reader import RawLine


class LocalEngine:
    def __init__(self, config: ChunkConfig, workers: int) -> None:
        self.config = config
        self.workers = workers
        self.inline: ChunkWorker | None = ChunkWorker(config) if workers == 0 else None
        self.executor: ProcessPoolExecutor | None = None
        self.parser: ChunkWorker | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_process,
                initargs=(self.config,),
            )
        return self.executor

    def _reset(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    def map_ordered(self, chunks: Iterable[tuple[Any, list[RawLine]]]) -> Iterator[tuple[Any, ChunkResult]]:
        """Process chunks, yielding (meta, result) in submission order."""
        if self.inline is not None:
            for meta, lines in chunks:
                yield meta, self.inline.parse_and_verify(lines)
            return
        pending: deque[tuple[Any, list[RawLine], Future[ChunkResult]]] = deque()
        source = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                try:
                    meta, lines = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((meta, lines, self._submit(lines)))
            if not pending:
                return
            meta, lines, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                retry = [(m, ls) for m, ls, _ in pending]
                self._reset()
                result = self._recover(lines)
                pending = deque((m, ls, self._submit(ls)) for m, ls in retry)
            yield meta, result

    def _submit(self, lines: list[RawLine]) -> Future[ChunkResult]:
        if not lines:  # a chunk that only carries the input position: nothing to send to a worker
            done: Future[ChunkResult] = Future()
            done.set_result(ChunkResult([], 0, 0))
            return done
        try:
            return self._executor().submit(process_chunk, lines)
        except BrokenProcessPool:
            self._reset()
            return self._executor().submit(process_chunk, lines)

    def _recover(self, lines: list[RawLine]) -> ChunkResult:
        """Retry a chunk whose worker died; then row by row, blaming only the row that kills it."""
        try:
            return self._executor().submit(process_chunk, lines).result()
        except BrokenProcessPool:
            self._reset()
        rows: list[RowResult | DoneRow] = []
        for raw in lines:
            try:
                rows += self._executor().submit(process_chunk, [raw]).result().rows
            except BrokenProcessPool:
                self._reset()
                rows.append(self._killer_row(raw))
        last = lines[-1]
        return ChunkResult(rows, last.line, last.end_offset)

    def _killer_row(self, raw: RawLine) -> RowResult:
        """The row whose verification killed a worker process: every process check errors."""
        if self.parser is None:  # builds no verifier and opens no cache: it only parses
            self.parser = ChunkWorker(replace(self.config, cache_path=None))
        return self.parser.died_row(raw)

    def close(self) -> None:
        for worker in (self.inline, self.parser):
            if worker is not None:
                worker.close()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
