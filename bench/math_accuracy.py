"""Math grading accuracy and speed: our `math` verifier and math-verify 0.9.0 on the same cases.

    python bench/math_accuracy.py [--limit N] [--workers N] [--extract boxed,final_answer,...]

For each corpus file (../shared/corpora/math/labeled_pairs.jsonl, realistic_responses.jsonl) it
grades the unambiguous rows with both graders in this one process and prints accuracy, false
positives (a wrong answer kept), false negatives, errors, cases/s and our/anchor ratios, then
every row where we disagree with the label. The anchor runs as its README recommends
(`verify(parse(gold), parse(pred))`, default configs) and, as a second variant, with bare LaTeX
answers wrapped in `$...$` (how the corpus README quotes its best figures).

Rows whose `pred_kind` is `answer` (a bare final answer, not a response) are given to us with the
per-record override `extract: [..., "whole"]`: the text is the answer itself, read like a gold.
Our time includes starting the grader processes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpora" / "math"
FILES = ("labeled_pairs.jsonl", "realistic_responses.jsonl")
# Known false keeps of the anchors (corpora/README.md, TRAPS.md): every one must be rejected.
KNOWN_FALSE_POSITIVES = (
    ("2", "\\boxed{200}"),
    ("4", "\\boxed{4.0004}"),
    ("\\frac{1}{2006!}", "\\boxed{\\frac{1}{2004!}}"),
    ("1+\\frac{1}{e}", "\\boxed{1-\\frac{1}{e}}"),
    ("1", "The answer is $1 - \\sqrt{2}$"),
)


@dataclass
class Score:
    name: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: {"tp": 0, "tn": 0, "fp": 0, "fn": 0, "error": 0})
    wrong: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, row: dict[str, Any], kept: bool | None, note: str) -> None:
        expected = bool(row["expected"])
        if kept is None:
            self.counts["error"] += 1
            self.wrong.append((row["id"], expected, "error: " + note))
            return
        key = ("tp" if expected else "fp") if kept else ("fn" if expected else "tn")
        self.counts[key] += 1
        if key in ("fp", "fn"):
            self.wrong.append((row["id"], expected, note))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def accuracy(self) -> float:
        return (self.counts["tp"] + self.counts["tn"]) / max(self.total, 1)

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else float("inf")


def load(name: str, limit: int | None) -> list[dict[str, Any]]:
    path = CORPUS / name
    if not path.exists():
        sys.exit(f"corpus file not found: {path} (the bench reads ../shared/corpora/math)")
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    rows = [row for row in rows if not row.get("ambiguous")]
    return rows[:limit] if limit else rows


def progress(description: str, total: int) -> Any:
    from rich.progress import Progress

    bar = Progress(disable=not sys.stderr.isatty(), transient=True)
    task = bar.add_task(description, total=total)
    return bar, task


def run_ours(rows: list[dict[str, Any]], workers: int | None, extract: list[str] | None) -> Score:
    from verify.mathgrade.extract import GOLD_ORDER
    from verify.mathgrade.verifier import MathVerifier
    from verify.records import Record

    score = Score("ours")
    items = []
    for index, row in enumerate(rows):
        record = Record(
            row["id"], index + 1, [{"role": "user", "content": ""}, {"role": "assistant", "content": row["pred"]}], {}
        )
        spec: dict[str, Any] = {"answer": row["gold"]}
        if row.get("pred_kind") == "answer":
            spec["extract"] = [*GOLD_ORDER]
        items.append((record, spec))
    options: dict[str, Any] = {"workers": workers} if workers else {}
    if extract:
        options["extract"] = extract
    verifier = MathVerifier(options)
    bar, task = progress("ours", len(items))
    started = time.perf_counter()
    verdicts = []
    with bar:
        for start in range(0, len(items), 64):
            verdicts.extend(verifier.verify_batch(items[start : start + 64]))
            bar.update(task, advance=len(items[start : start + 64]))
    score.seconds = time.perf_counter() - started
    verifier.close()
    for row, verdict in zip(rows, verdicts, strict=True):
        kept = None if verdict.status == "error" else verdict.status == "pass"
        score.add(row, kept, f"{verdict.code}: {verdict.reason}")
    return score


def _wrap(text: str) -> str:
    return text if "$" in text or "\\(" in text or "\\[" in text or "\\boxed" in text else f"${text}$"


def run_math_verify(rows: list[dict[str, Any]], wrapped: bool) -> Score:
    from math_verify import parse, verify

    score = Score("math-verify (wrapped)" if wrapped else "math-verify")
    bar, task = progress(score.name, len(rows))
    outcomes = []
    started = time.perf_counter()
    with bar:
        for row in rows:
            gold, pred = row["gold"], row["pred"]
            if wrapped:
                gold = _wrap(gold) if row.get("gold_kind") == "answer" else gold
                pred = _wrap(pred) if row.get("pred_kind") == "answer" else pred
            try:
                outcomes.append(bool(verify(parse(gold), parse(pred))))
            except Exception as exc:  # math-verify raises on some inputs; that is its verdict
                outcomes.append(f"{type(exc).__name__}: {exc}")
            bar.update(task, advance=1)
    score.seconds = time.perf_counter() - started
    for row, result in zip(rows, outcomes, strict=True):
        score.add(row, result if isinstance(result, bool) else None, "" if isinstance(result, bool) else str(result))
    return score


def known_false_positives(workers: int | None) -> None:
    from math_verify import parse, verify

    from verify.mathgrade.verifier import MathVerifier
    from verify.records import Record

    verifier = MathVerifier({"workers": workers} if workers else {})
    items = [
        (Record(f"kfp-{i}", i + 1, [{"role": "assistant", "content": pred}], {}), {"answer": gold})
        for i, (gold, pred) in enumerate(KNOWN_FALSE_POSITIVES)
    ]
    verdicts = verifier.verify_batch(items)
    verifier.close()
    print("\nknown false positives of the anchors (gold | response -> ours, math-verify):")
    for (gold, pred), verdict in zip(KNOWN_FALSE_POSITIVES, verdicts, strict=True):
        anchor = bool(verify(parse(f"${gold}$"), parse(pred)))
        print(
            f"  {gold:18s} | {pred:28s} -> ours {verdict.status:5s} ({verdict.code}); math-verify {'pass' if anchor else 'fail'}"
        )


def report(name: str, ours: Score, anchors: list[Score]) -> None:
    print(f"\n== {name}: {ours.total} unambiguous cases")
    print(f"{'grader':24s} {'accuracy':>8s} {'FP':>4s} {'FN':>4s} {'error':>5s} {'cases/s':>9s} {'seconds':>8s}")
    for score in (ours, *anchors):
        c = score.counts
        print(
            f"{score.name:24s} {score.accuracy:8.3f} {c['fp']:4d} {c['fn']:4d} {c['error']:5d} {score.rate:9.1f} {score.seconds:8.2f}"
        )
    for anchor in anchors:
        print(
            f"ratio ours/{anchor.name}: accuracy {ours.accuracy / max(anchor.accuracy, 1e-9):.3f}x, "
            f"cases/s {ours.rate / anchor.rate:.2f}x, false positives {ours.counts['fp']} vs {anchor.counts['fp']}"
        )
    print(f"our disagreements with the labels ({len(ours.wrong)}):")
    for row_id, expected, note in ours.wrong:
        print(f"  {row_id}: expected {'equal' if expected else 'different'}; {note[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="grade only the first N unambiguous rows of each file")
    parser.add_argument("--workers", type=int, default=None, help="our grader processes (default: os.cpu_count())")
    parser.add_argument(
        "--extract", default=None, help="our extraction strategies for responses, comma-separated (default: ours)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    extract = args.extract.split(",") if args.extract else None
    for name in FILES:
        rows = load(name, args.limit)
        ours = run_ours(rows, args.workers, extract)
        anchors = [run_math_verify(rows, wrapped=False), run_math_verify(rows, wrapped=True)]
        report(name, ours, anchors)
    known_false_positives(args.workers)


if __name__ == "__main__":
    main()
