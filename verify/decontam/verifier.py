"""The `decontam` check: a row that contains a benchmark item fails, naming item and span.

Each message of the row (by default every role: a few-shot system prompt can leak a test item
as surely as a user turn) is compared with every configured benchmark index. The row fails
when some benchmark unit has at least `min_coverage` of its words inside n-grams the message
shares with it (see `verify.decontam.match`). A missing index is an `error` naming the command
that builds it: the check could not decide, it did not pass.

Runs in worker processes (`runs_in = "process"`): the index is memory-mapped once per
process (milliseconds) and matching is CPU work that parallelises across rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from verify.records import Record, Verdict, errored, failed, message_text, passed
from verify.verifier import Options as VerifierOptions
from verify.verifier import Verifier, VerifierUnavailable, no_fields_problem, register

CHECK = "decontam"
BUILTIN_NAMES = ("ifeval", "gsm8k", "math", "humaneval", "mbpp")
Role = Literal["system", "user", "assistant", "tool"]


class DecontamOptions(VerifierOptions):
    benchmarks: tuple[str, ...] = Field(
        BUILTIN_NAMES,
        description="Indexes to check against: names of folders under index_dir, or paths to index folders.",
    )
    index_dir: str | None = Field(None, description="Where named indexes live (default: <cache>/decontam).")
    ngram: int | None = Field(
        None, ge=3, le=50,
        description="Words per n-gram; default: the n the index was built with (13). Another n is rebuilt in memory.",
    )
    min_coverage: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Share of a benchmark item's words inside shared n-grams at which a row is contaminated "
                    "(0: any shared n-gram).",
    )
    template_items: int = Field(
        3, ge=2, description="N-grams found in this many items of one benchmark are template text, not evidence.",
    )
    roles: tuple[Role, ...] = Field(("system", "user", "assistant", "tool"), description="Messages to check.")


@register
class DecontamVerifier(Verifier):
    name: ClassVar[str] = CHECK
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Benchmark contamination: n-gram overlap with IFEval, GSM8K, MATH, HumanEval, MBPP or your files."
    extra: ClassVar[str | None] = "dedup"
    requires: ClassVar[tuple[str, ...]] = ("numpy",)
    runs_in: ClassVar[str] = "process"
    Options: ClassVar[type[DecontamOptions]] = DecontamOptions

    def __init__(self, options: DecontamOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        from verify.decontam.index import IndexUnavailable, load_index
        from verify.decontam.match import Matcher

        loaded = []
        for folder in self.folders():
            try:
                loaded.append(load_index(folder, self.options.ngram))
            except IndexUnavailable as exc:
                # A missing or damaged index is an environment problem, like a missing Docker engine:
                # the pipeline gives every row an `error` verdict and the run exits 2 naming the command.
                raise VerifierUnavailable(f"{exc}; build it with: {build_hint(folder)}") from exc
        self._matcher = Matcher(loaded, self.options.template_items)
        self._digests = [index.meta["content_sha256"] for index in loaded]

    # ---- indexes -----------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        from verify.decontam.index import default_index_dir

        root = Path(self.options.index_dir) if self.options.index_dir else default_index_dir()
        out = []
        for benchmark in self.options.benchmarks:
            looks_like_path = "/" in benchmark or benchmark.startswith(".")
            out.append(Path(benchmark) if looks_like_path else root / benchmark)
        return out

    def matcher(self) -> Any:
        """The indexes, loaded and merged by the constructor."""
        return self._matcher

    def cache_material(self, record: Record, spec: dict[str, Any]) -> Any:
        """A verdict depends on the messages and on the indexes' contents (rebuilt → recomputed)."""
        return {"messages": record.messages, "spec": spec, "indexes": self.index_digests()}

    def index_digests(self) -> list[str]:
        return self._digests

    # ---- verdicts ----------------------------------------------------------------------------
    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        from verify.decontam.match import MessageGrams

        problem = no_fields_problem(CHECK, spec)
        if problem:
            return errored(CHECK, problem, "decontam.bad_spec")
        matcher = self.matcher()
        started = time.perf_counter()
        best: tuple[Any, int, str, Any] | None = None  # (overlap, message number, role, message grams)
        for number, message in enumerate(record.messages):
            role = str(message.get("role"))
            if role not in self.options.roles:
                continue
            grams = MessageGrams(message_text(message))
            for overlap in matcher.find(grams)[:1]:
                if best is None or (overlap.coverage, overlap.shared_words) > (best[0].coverage, best[0].shared_words):
                    best = (overlap, number, role, grams)
        verdict = self._verdict(record, best, matcher.indexes)
        return verdict.with_seconds(time.perf_counter() - started)

    def _verdict(self, record: Record, best: tuple[Any, int, str, Any] | None, indexes: list[Any]) -> Verdict:
        from verify.decontam.match import quote

        if best is None:
            sizes = "/".join(sorted({str(index.ngram) for index in indexes}))
            names = ", ".join(index.name for index in indexes)
            return passed(CHECK, f"no {sizes}-gram shared with {names}", "decontam.clean")
        overlap, number, role, grams = best
        span = (0, len(grams.text)) if overlap.whole else grams.char_span(*overlap.words)
        where = describe_message(record, number, role)
        details = {
            "benchmark": overlap.benchmark,
            "item": overlap.item,
            "field": overlap.field,
            "coverage": round(overlap.coverage, 4),
            "shared_words": overlap.shared_words,
            "item_words": overlap.unit_words,
            "message": number,
            "role": role,
            "span": list(span),
            "span_text": quote(grams.text, span),
            "gram_words": overlap.gram,
        }
        threshold = self.options.min_coverage
        item = f"{overlap.title} item {overlap.item}{field_note(overlap, indexes)}"
        if overlap.whole:
            return failed(CHECK, f"{where} is {item}, word for word: \"{details['span_text']}\"",
                          "decontam.overlap", **details)
        if overlap.coverage >= threshold and overlap.shared_words > 0:
            return failed(
                CHECK,
                f"{where} contains {item}: {overlap.coverage:.0%} of its words are in shared {overlap.gram}-grams "
                f"(limit {threshold:.0%}); shared span of {overlap.span_words} words: \"{details['span_text']}\"",
                "decontam.overlap",
                **details,
            )
        return passed(
            CHECK,
            f"largest overlap is {overlap.coverage:.0%} of {overlap.title} item {overlap.item}, "
            f"below the {threshold:.0%} limit",
            "decontam.partial",
            **details,
        )


def field_note(overlap: Any, indexes: list[Any]) -> str:
    """' (test_list)' when the benchmark indexes several fields per item, else ''."""
    index = next(index for index in indexes if index.name == overlap.benchmark)
    return f" ({overlap.field})" if index.multi_field else ""


def describe_message(record: Record, number: int, role: str) -> str:
    """'the response', 'the prompt' or 'message 3 (system)'."""
    last_assistant = max((i for i, m in enumerate(record.messages) if m.get("role") == "assistant"), default=-1)
    if number == last_assistant:
        return "the response"
    last_user = max((i for i, m in enumerate(record.messages[:last_assistant]) if m.get("role") == "user"), default=-1)
    if number == last_user:
        return "the prompt"
    return f"message {number + 1} ({role})"


def build_hint(folder: Path) -> str:
    from verify.decontam.index import default_index_dir
    from verify.decontam.sources import BUILTIN_BENCHMARKS

    if folder.name in BUILTIN_BENCHMARKS:
        out = "" if folder.parent == default_index_dir() else f" --out {folder.parent}"
        return f"verify data decontam-index --builtin{out}"
    return f"verify data decontam-index --file <benchmark file> --field <text field> --name {folder.name} --out {folder.parent}"
