"""Speed of the `constraints` checkers against lm-eval's IFEval checkers, same rows, one process.

    python bench/constraints_speed.py [--limit N] [--workers 2]

Both sides score every row of ../shared/corpora/ifeval in strict and in loose mode (null
responses as ""), with langdetect seeded (`DetectorFactory.seed = 0`) and nltk's English punkt
model. The reference is lm-eval 0.4.13's `lm_eval/tasks/ifeval/utils.py` (the `bench` extra).
Both load their models before timing; our caches start empty. Other jobs share this machine,
so the rows are timed in interleaved chunks (reference then ours, then ours then reference,
...): both sides see the same load, and the wall-clock ratio stays close to the CPU-time one.
Prints rows/s for each (wall clock and process CPU time), the ratio, and how each side's
verdicts compare with `reference_verdicts.jsonl` (google-research's current IFEval code).
With `--workers N` ours is also timed with N worker processes (cold caches in each worker).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpora" / "ifeval"


def load(limit: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = [json.loads(line) for line in (CORPUS / "responses.jsonl").open()]
    verdicts = [json.loads(line) for line in (CORPUS / "reference_verdicts.jsonl").open()]
    return rows[:limit], verdicts[:limit]


def run_reference(rows: list[dict[str, Any]]) -> list[tuple[list[bool], list[bool]]]:
    from lm_eval.tasks.ifeval import utils

    results = []
    for row in rows:
        example = utils.InputExample(
            key=row["key"], instruction_id_list=row["instruction_id_list"], prompt=row["prompt"], kwargs=row["kwargs"]
        )
        response = row["response"] or ""
        strict = utils.test_instruction_following_strict(example, response).follow_instruction_list
        loose = utils.test_instruction_following_loose(example, response).follow_instruction_list
        results.append((strict, loose))
    return results


def run_ours(rows: list[dict[str, Any]]) -> list[tuple[list[bool], list[bool]]]:
    from constraints import evaluate

    results = []
    for row in rows:
        response = row["response"] or ""
        per_mode = []
        for mode in ("strict", "loose"):
            outcome = evaluate(response, row["instruction_id_list"], row["kwargs"], mode, row["prompt"])
            per_mode.append([result.status == "pass" for result in outcome])
        results.append((per_mode[0], per_mode[1]))
    return results


def timed(function: Any, rows: list[dict[str, Any]]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    results = function(rows)
    return results, time.perf_counter() - wall, time.process_time() - cpu


def interleaved(rows: list[dict[str, Any]], chunk: int) -> dict[str, tuple[list[Any], float, float]]:
    """Time both sides chunk by chunk, alternating which goes first: {side: (results, wall, cpu)}."""
    sides = {"reference": run_reference, "ours": run_ours}
    totals: dict[str, tuple[list[Any], float, float]] = {name: ([], 0.0, 0.0) for name in sides}
    for number, start in enumerate(range(0, len(rows), chunk)):
        order = ("reference", "ours") if number % 2 == 0 else ("ours", "reference")
        for name in order:
            results, wall, cpu = timed(sides[name], rows[start : start + chunk])
            done, total_wall, total_cpu = totals[name]
            totals[name] = (done + results, total_wall + wall, total_cpu + cpu)
    return totals


def compare(results: list[tuple[list[bool], list[bool]]], verdicts: list[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """(instructions, disagreements, first few disagreement descriptions), strict and loose."""
    total = 0
    differing = []
    for line, ((strict, loose), reference) in enumerate(zip(results, verdicts, strict=True)):
        for index, instruction_id in enumerate(reference["instruction_id_list"]):
            total += 1
            for mode, ours in (("strict", strict), ("loose", loose)):
                if ours[index] != reference[mode][index]:
                    differing.append(
                        f"line {line} {instruction_id} {mode}: {ours[index]} vs reference {reference[mode][index]}"
                    )
    return total, len(differing), differing[:8]


def time_language_detection(rows: list[dict[str, Any]], count: int = 600) -> None:
    """langdetect itself vs our replay of it, on the first `count` non-empty responses."""
    import langdetect

    from constraints import langid

    texts = [row["response"] for row in rows if row["response"] and row["response"].strip()][:count]
    started = time.process_time()
    expected = []
    for text in texts:
        try:
            expected.append(langdetect.detect(text))
        except langdetect.LangDetectException:
            expected.append(None)
    theirs = time.process_time() - started
    started = time.process_time()
    ours = [langid.detect(text) for text in texts]
    mine = time.process_time() - started
    same = sum(a == b for a, b in zip(expected, ours, strict=True))
    print(
        f"language detection on {len(texts)} responses: langdetect {1000 * theirs / len(texts):.2f} ms/call, "
        f"ours {1000 * mine / len(texts):.2f} ms/call CPU ({theirs / mine:.1f}x), {same}/{len(texts)} labels equal"
    )


def _warm_up() -> None:
    """Load langdetect's profiles and the punkt model for both sides before timing."""
    import langdetect

    from constraints import evaluate
    from constraints.punkt import require

    require()  # also puts sft-verify's nltk data folder on nltk's path for lm-eval
    langdetect.DetectorFactory.seed = 0
    langdetect.detect("warm up the language profiles")
    evaluate(
        "Warm up. Two sentences.",
        ["length_constraints:number_sentences", "language:response_language"],
        [{"num_sentences": 1, "relation": "at least"}, {"language": "en"}],
    )


def _reset_our_caches() -> None:
    from constraints import engine, langid, sentences, text

    engine._VALIDATED.clear()
    langid._PROFILES = None  # rebuilt on first use from langdetect's loaded factory
    sentences._capital_counts.clear()
    sentences._sentence_tokenizer()._decisions.clear()
    text._RECENT.clear()


def _worker(rows: list[dict[str, Any]]) -> list[tuple[list[bool], list[bool]]]:
    return run_ours(rows)


def run_ours_parallel(rows: list[dict[str, Any]], workers: int) -> tuple[list[Any], float]:
    chunk = max(1, len(rows) // (workers * 8))
    chunks = [rows[start : start + chunk] for start in range(0, len(rows), chunk)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_warm_up) as pool:
        pool.map(_worker, [rows[:2]] * workers)  # let every worker import and load before timing
        started = time.perf_counter()
        parts = pool.map(_worker, chunks)
        elapsed = time.perf_counter() - started
    return [result for part in parts for result in part], elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N rows")
    parser.add_argument("--workers", type=int, default=0, help="also time ours with N worker processes")
    parser.add_argument("--chunk", type=int, default=500, help="rows per interleaved timing chunk")
    args = parser.parse_args()

    rows, verdicts = load(args.limit)
    _warm_up()
    _reset_our_caches()
    timings = interleaved(rows, args.chunk)
    reference, reference_wall, reference_cpu = timings["reference"]
    ours, ours_wall, ours_cpu = timings["ours"]

    count = len(rows)
    print(f"rows: {count} (strict + loose each), instructions: {sum(len(r['instruction_id_list']) for r in rows)}")
    print(
        f"reference (lm-eval 0.4.13 ifeval): {count / reference_wall:8.1f} rows/s wall, {count / reference_cpu:8.1f} rows/s CPU"
    )
    print(
        f"ours (constraints, 1 process):     {count / ours_wall:8.1f} rows/s wall, {count / ours_cpu:8.1f} rows/s CPU"
    )
    print(f"ratio ours/reference: {reference_wall / ours_wall:.2f}x wall, {reference_cpu / ours_cpu:.2f}x CPU")
    for name, results in (("ours", ours), ("lm-eval", reference)):
        total, differing, examples = compare(results, verdicts)
        print(f"{name} vs reference_verdicts.jsonl: {2 * total - differing}/{2 * total} strict+loose verdicts equal")
        for example in examples:
            print(f"    {example}")
    time_language_detection(rows)
    if args.workers:
        parallel, elapsed = run_ours_parallel(rows, args.workers)
        total, differing, _ = compare(parallel, verdicts)
        print(
            f"ours with {args.workers} worker processes: {count / elapsed:8.1f} rows/s wall "
            f"({reference_wall / elapsed:.2f}x the 1-process reference), {differing} verdicts differ"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
