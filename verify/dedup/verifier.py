"""The `dedup` check: a row that repeats an earlier row, exactly or nearly, fails.

The first occurrence is kept and every later copy fails with the line and id of the row it
repeats and the estimated similarity. "First" is by input order among the rows that carry the
check, whatever other checks decide: a first occurrence that another check rejects still
counts, so its copies fail too (they would teach the same wrong thing).

The decision needs every earlier row, so the check is `ordered`: the pipeline calls
`verify_batch` from one process in input order. Fingerprints are pure functions of a row
(`verify.dedup.fingerprint`); only the index (`verify.dedup.index`) is stateful, and it lives on
disk, committed at each `checkpoint()`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from verify.records import Record, Verdict, errored, failed, passed, skipped
from verify.verifier import Options as VerifierOptions
from verify.verifier import Verifier, no_fields_problem, register

CHECK = "dedup"


class DedupOptions(VerifierOptions):
    threshold: float = Field(
        0.55, gt=0.0, le=1.0,
        description="Estimated Jaccard similarity of word shingles at or above which a row is a near-duplicate.",
    )
    turns: Literal["all", "last", "prompt", "response"] = Field(
        "all", description="Which turns define a row: all (every non-system message), last (last prompt + response), "
                           "prompt (last user message) or response.",
    )
    include_system: bool = Field(False, description="With turns=all, include system messages too.")
    near: bool = Field(True, description="Look for near-duplicates; false keeps only the exact-duplicate check.")
    shingle_words: int = Field(3, ge=1, le=32, description="Words per shingle for MinHash.")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations (signature length).")
    cache_mb: int = Field(256, ge=4, description="SQLite page cache for the on-disk index, in MiB (bounds memory).")


@register
class DedupVerifier(Verifier):
    name: ClassVar[str] = CHECK
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Exact and near-duplicate rows (MinHash LSH); the first occurrence is kept."
    extra: ClassVar[str | None] = "dedup"
    requires: ClassVar[tuple[str, ...]] = ("datasketch", "numpy")
    runs_in: ClassVar[str] = "ordered"
    cacheable: ClassVar[bool] = False
    Options: ClassVar[type[DedupOptions]] = DedupOptions

    def __init__(self, options: DedupOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        from verify.dedup.fingerprint import Fingerprinter

        opts = self.options
        self.fingerprinter = Fingerprinter(opts.turns, opts.include_system, opts.shingle_words, opts.num_perm,
                                           opts.threshold)
        self.index: Any = None
        self._implicit_dir: Path | None = None

    # ---- state -------------------------------------------------------------------------------
    def open_state(self, state_dir: Path, resume: bool) -> None:
        from verify.dedup.index import STATE_FILE, DedupIndex

        self.close()
        layout = {**self.options.model_dump(exclude={"cache_mb"}), **self.fingerprinter.layout(), "version": self.version}
        self.index = DedupIndex(Path(state_dir) / STATE_FILE, layout, fresh=not resume, cache_mb=self.options.cache_mb)

    def checkpoint(self) -> None:
        if self.index is not None:
            self.index.commit()

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None
        if self._implicit_dir is not None:
            shutil.rmtree(self._implicit_dir, ignore_errors=True)
            self._implicit_dir = None

    def _ensure_index(self) -> None:
        """Without `open_state` (library use, tests), keep the index in a temporary folder
        and commit after every batch, since nobody will call `checkpoint()`."""
        if self.index is None:
            folder = Path(tempfile.mkdtemp(prefix="sft-verify-dedup-"))
            self.open_state(folder, resume=False)
            self._implicit_dir = folder

    # ---- verdicts ----------------------------------------------------------------------------
    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        return self.verify_batch([(record, spec)])[0]

    def verify_batch(self, items: Sequence[tuple[Record, dict[str, Any]]]) -> list[Verdict]:
        from verify.dedup.index import Item

        self._ensure_index()
        verdicts: list[Verdict | None] = [None] * len(items)
        seconds = [0.0] * len(items)
        pending: list[tuple[int, Item]] = []
        for position, (record, spec) in enumerate(items):
            started = time.perf_counter()
            problem = no_fields_problem(CHECK, spec)
            if problem:
                verdicts[position] = errored(CHECK, problem, "dedup.bad_spec")
                continue
            fingerprint = self.fingerprinter.fingerprint(record)
            seconds[position] = time.perf_counter() - started
            if fingerprint is None:
                verdicts[position] = skipped(
                    CHECK, f"no text in the selected turns (turns={self.options.turns}); nothing to compare",
                    "dedup.empty",
                )
                continue
            pending.append((position, Item(record.line, record.id, fingerprint)))
        started = time.perf_counter()
        decisions = self.index.decide([item for _, item in pending], self.options.threshold, self.options.near)
        share = (time.perf_counter() - started) / max(len(pending), 1)
        for (position, _), decision in zip(pending, decisions, strict=True):
            verdicts[position] = self._verdict(decision)
            seconds[position] += share
        if self._implicit_dir is not None:
            self.index.commit()
        return [verdict.with_seconds(sec) for verdict, sec in zip(verdicts, seconds, strict=True)]  # type: ignore[union-attr]

    def _verdict(self, decision: Any) -> Verdict:
        threshold = self.options.threshold
        if decision.kind == "exact":
            return failed(
                CHECK,
                f"exact duplicate of line {decision.line} (id {decision.id!r}) once case, spacing and Unicode forms "
                "are normalised; the first occurrence is kept",
                "dedup.exact",
                duplicate_of={"line": decision.line, "id": decision.id}, similarity=1.0,
            )
        if decision.kind == "near":
            return failed(
                CHECK,
                f"near-duplicate of line {decision.line} (id {decision.id!r}): estimated similarity "
                f"{decision.similarity:.2f} >= {threshold:.2f}; the first occurrence is kept",
                "dedup.near",
                duplicate_of={"line": decision.line, "id": decision.id},
                similarity=round(decision.similarity, 4), threshold=threshold,
            )
        if decision.candidates:
            reason = (f"first occurrence: the closest earlier row is at estimated similarity "
                      f"{decision.similarity:.2f}, below {threshold:.2f}")
        else:
            reason = "first occurrence: no earlier row shares its text"
        return passed(CHECK, reason, "dedup.unique", closest_similarity=round(decision.similarity, 4),
                      candidates=decision.candidates)
