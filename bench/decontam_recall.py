"""Contamination caught, new rows spared, and speed of the `decontam` check.

    python bench/decontam_recall.py [--limit N]

Indexes for the five built-in benchmarks are built from ../shared/corpora into a temporary
folder. Then, on the same rows, in one process:

- ours: `DecontamVerifier` with its defaults (13-grams, fail at >= 50% of an item's words);
- anchor: lm-eval's `Janitor` (GPT-3's procedure, 13-grams over whitespace words with
  punctuation deleted), a row counted contaminated when any of its 13-grams is a benchmark's.

Contaminated rows (each contains a benchmark item): the 9,738 IFEval responses with their
prompts; GSM8K questions with solutions; MATH questions with Qwen's solutions; the 1,154
HumanEval/MBPP SFT pairs; and the GSM8K and HumanEval rows again with the item lower-cased,
punctuation stripped and re-spaced ("reformatted").
New rows (no benchmark item): 35 hand-written paraphrases of benchmark items (new numbers,
new wording, some reusing IFEval's shared instruction templates; tests/data/dedup) and
passages of the Python reference manual (`pydoc_data`, unrelated text).

Also measured, for choosing where the check runs: the time to load all five indexes in a
fresh process, and rows/s with 1 and 2 worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import re
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verify.decontam.cli import index_command  # noqa: E402
from verify.decontam.sources import BUILTIN_BENCHMARKS, read_units  # noqa: E402
from verify.decontam.verifier import DecontamVerifier  # noqa: E402
from verify.records import Record  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
PARAPHRASES = REPO / "tests" / "data" / "dedup" / "paraphrases.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def row(prompt: str, response: str, number: int) -> Record:
    return Record(f"r{number}", number, [{"role": "user", "content": prompt},
                                         {"role": "assistant", "content": response}], {})


def reformat(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(str.maketrans("", "", string.punctuation)).lower())


def contaminated_sets() -> dict[str, list[tuple[str, str]]]:
    gsm8k = read_jsonl(CORPORA / "math" / "gsm8k_test_first400.jsonl")
    problems = read_jsonl(CORPORA / "math" / "math_test_100_from_qwen_example.jsonl")
    code = read_jsonl(CORPORA / "code" / "sft_pairs.jsonl")
    humaneval = [item for item in code if item["source"] == "humaneval"]
    return {
        "ifeval (prompt + model response)": [
            (item["prompt"], item.get("response") or "") for item in read_jsonl(CORPORA / "ifeval" / "responses.jsonl")
        ],
        "gsm8k (question + solution)": [(item["question"], item["solution"]) for item in gsm8k],
        "math (question + Qwen solution)": [
            (problems[int(item["id"].split("-")[2])]["question"], item["pred"])
            for item in read_jsonl(CORPORA / "math" / "realistic_responses.jsonl")
        ],
        "humaneval+mbpp (SFT pairs)": [(item["prompt"], item["response"]) for item in code],
        "gsm8k reformatted": [(reformat(item["question"]), item["solution"]) for item in gsm8k],
        "humaneval reformatted": [(reformat(item["prompt"]), item["response"]) for item in humaneval],
    }


def clean_sets() -> dict[str, list[tuple[str, str]]]:
    from pydoc_data.topics import topics

    paraphrases = [(r["messages"][0]["content"], r["messages"][1]["content"]) for r in read_jsonl(PARAPHRASES)]
    manual = []
    for name in sorted(topics):
        for paragraph in re.split(r"\n\s*\n", topics[name]):
            if len(paragraph.split()) >= 20:
                manual.append((f"Explain this part of the Python manual ({name}).", paragraph))
    return {"hand-written paraphrases": paraphrases, "Python manual passages": manual}


class Anchor:
    """lm-eval's Janitor, registered with every benchmark text; a row is dirty if any 13-gram matches."""

    def __init__(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from lm_eval.decontamination.janitor import Janitor, word_ngrams_indices

        self.janitor = Janitor(ngram_n=13)
        self.ngrams = word_ngrams_indices
        for source in BUILTIN_BENCHMARKS.values():
            for unit in read_units(CORPORA / source.path, source.fields, source.id_field):
                self.janitor.register_contaminant_python(unit.text)

    def dirty(self, record: Record) -> bool:
        normalise = self.janitor.normalize_string
        dirt = self.janitor.dirt_ngrams
        for message in record.messages:
            for gram, _ in self.ngrams(message["content"], 13):
                if normalise(gram) in dirt:
                    return True
        return False


def time_rows(decide, records: list[Record]) -> tuple[int, float]:
    started = time.perf_counter()
    flagged = sum(1 for record in records if decide(record))
    return flagged, time.perf_counter() - started


_WORKER: DecontamVerifier | None = None


def _init(index_dir: str) -> None:
    global _WORKER
    _WORKER = DecontamVerifier({"index_dir": index_dir})
    _WORKER.matcher()


def _check(pairs: list[tuple[str, str]]) -> int:
    assert _WORKER is not None
    return sum(_WORKER.verify(row(p, r, i), {}).status == "fail" for i, (p, r) in enumerate(pairs))


def parallel_rate(pairs: list[tuple[str, str]], index_dir: str, workers: int) -> float:
    """rows/s with `workers` spawned processes, each loading the indexes once (load time included)."""
    chunks = [pairs[i:i + 200] for i in range(0, len(pairs), 200)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init, initargs=(index_dir,)) as pool:
        sum(pool.map(_check, chunks))
    return len(pairs) / (time.perf_counter() - started)


def load_seconds(index_dir: str) -> float:
    """Seconds to load and merge all five indexes in a fresh process (imports excluded)."""
    code = (
        "import time; from verify.decontam.verifier import DecontamVerifier; import numpy;"
        f"v = DecontamVerifier({{'index_dir': {index_dir!r}}}); t = time.perf_counter(); v.matcher();"
        "print(time.perf_counter() - t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="at most this many rows per set")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as index_dir:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            index_command.main(["--builtin", "--out", index_dir], standalone_mode=False)
        print(f"indexes built in {time.perf_counter() - started:.2f}s; loading all five in a fresh process: "
              f"{1000 * load_seconds(index_dir):.0f} ms")
        ours = DecontamVerifier({"index_dir": index_dir})
        ours.matcher()
        anchor = Anchor()
        totals = {"ours": [0, 0.0], "anchor": [0, 0.0]}
        all_pairs: list[tuple[str, str]] = []
        for label, sets, expected in (("contaminated", contaminated_sets(), True), ("new", clean_sets(), False)):
            print(f"-- {label} rows (should {'fail' if expected else 'pass'})")
            for name, pairs in sets.items():
                pairs = pairs[:args.limit] if args.limit else pairs
                all_pairs += pairs
                records = [row(p, r, i + 1) for i, (p, r) in enumerate(pairs)]
                ours_flagged, ours_seconds = time_rows(lambda rec: ours.verify(rec, {}).status == "fail", records)
                anchor_flagged, anchor_seconds = time_rows(anchor.dirty, records)
                for key, seconds in (("ours", ours_seconds), ("anchor", anchor_seconds)):
                    totals[key][0] += len(records)
                    totals[key][1] += seconds
                print(f"{name:36s} {len(records):6d} rows   flagged: ours {ours_flagged:6d} ({ours_flagged / len(records):7.2%})"
                      f"   anchor {anchor_flagged:6d} ({anchor_flagged / len(records):7.2%})")
        ours_rate = totals["ours"][0] / totals["ours"][1]
        anchor_rate = totals["anchor"][0] / totals["anchor"][1]
        print(f"speed, one process: ours {ours_rate:,.0f} rows/s, anchor {anchor_rate:,.0f} rows/s, "
              f"ratio ours/anchor {ours_rate / anchor_rate:.2f}")
        sample = all_pairs[:12000]
        one, two = parallel_rate(sample, index_dir, 1), parallel_rate(sample, index_dir, 2)
        print(f"worker processes ({len(sample)} rows, spawn + index load included): "
              f"1 worker {one:,.0f} rows/s, 2 workers {two:,.0f} rows/s (x{two / one:.2f})")


if __name__ == "__main__":
    main()
