"""Memory, disk and speed of the `dedup` check as the number of rows grows.

    python bench/dedup_scale.py [--limit 1000000] [--report-every 100000]

Rows are generated on the fly (nothing is held in memory): prompts of 10-30 and answers of
30-120 words drawn from the vocabulary of the IFEval model responses in ../shared/corpora with
their real frequencies, so nearly every row is new; 5% are exact copies and 5% near copies (two
words changed) of rows drawn from a rolling sample of 10,000 earlier rows. The check is driven
exactly as `verify run` drives it: `open_state`, then `verify_batch` on chunks of 1,000 rows with
a `checkpoint()` after each.

With `--anchor`, datasketch's in-memory `MinHashLSH` (same threshold, same shingles, datasketch's
default SHA-1 shingle hashing, first occurrences inserted) runs over the same rows in a child
process, so that its memory is measured apart from ours.

Printed at each report: rows, rows/s of the check alone (wall clock and CPU time), the process's resident memory (RSS), the
index's size on disk per first occurrence, and how many planted copies were caught so far.
The point: RSS stays flat (SQLite's page cache, `cache_mb`, plus one chunk) while the index
grows on disk.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from itertools import accumulate
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verify.dedup.text import words  # noqa: E402
from verify.dedup.verifier import DedupVerifier  # noqa: E402
from verify.records import Record  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"


def rss_mib() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def vocabulary() -> tuple[list[str], list[int]]:
    """The 30,000 most common words and their cumulative counts."""
    counts: Counter[str] = Counter()
    with open(CORPORA / "ifeval" / "responses.jsonl", encoding="utf-8") as handle:
        for line in handle:
            counts.update(words(json.loads(line).get("response") or ""))
    common = counts.most_common(30000)
    return [word for word, _ in common], list(accumulate(count for _, count in common))


def generate(limit: int, seed: int = 0):
    """(record, planted kind or None) for `limit` rows."""
    rng = random.Random(seed)
    vocab, cumulative = vocabulary()
    sample: list[tuple[str, str]] = []
    for line in range(1, limit + 1):
        roll = rng.random()
        if sample and roll < 0.05:
            prompt, response = rng.choice(sample)
            kind = "exact"
        elif sample and roll < 0.10:
            prompt, response = rng.choice(sample)
            tokens = response.split()
            for _ in range(2):
                tokens[rng.randrange(len(tokens))] = rng.choice(vocab)
            response, kind = " ".join(tokens), "near"
        else:
            prompt = " ".join(rng.choices(vocab, cum_weights=cumulative, k=rng.randint(10, 30))) + "?"
            response = " ".join(rng.choices(vocab, cum_weights=cumulative, k=rng.randint(30, 120))) + "."
            kind = None
            if len(sample) < 10000:
                sample.append((prompt, response))
            else:
                sample[rng.randrange(10000)] = (prompt, response)
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
        yield Record(f"row-{line}", line, messages, {}), kind


def run_anchor(limit: int, report_every: int) -> None:
    """datasketch MinHashLSH in memory over the same rows: RSS and speed at each report."""
    from datasketch import MinHash, MinHashLSH

    from verify.dedup.fingerprint import selected_turns, word_stream

    settings = DedupVerifier.Options()
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    template = MinHash(num_perm=settings.num_perm)
    signatures: dict[int, MinHash] = {}
    caught = Counter()
    planted = Counter()
    wall = cpu = 0.0
    print(f"anchor: datasketch MinHashLSH in memory, threshold {settings.threshold}")
    print(f"{'rows':>10} {'wall rows/s':>12} {'CPU rows/s':>11} {'RSS MiB':>8} {'exact caught':>13} {'near caught':>12}")
    for record, kind in generate(limit):
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        stream = word_stream(selected_turns(record, settings.turns, settings.include_system))
        size = settings.shingle_words
        shingles = [" ".join(stream[i:i + size]).encode() for i in range(max(1, len(stream) - size + 1))]
        minhash = template.copy()
        minhash.update_batch(shingles)
        duplicate = any(minhash.jaccard(signatures[other]) >= settings.threshold for other in lsh.query(minhash))
        if not duplicate:
            lsh.insert(record.line, minhash)
            signatures[record.line] = minhash
        wall += time.perf_counter() - started_wall
        cpu += time.process_time() - started_cpu
        if kind:
            planted[kind] += 1
            caught[kind] += duplicate
        if record.line % report_every == 0 or record.line == limit:
            print(f"{record.line:>10,} {record.line / wall:>12,.0f} {record.line / cpu:>11,.0f} {rss_mib():>8.0f} "
                  f"{caught['exact']:>6}/{planted['exact']:<6} {caught['near']:>5}/{planted['near']:<6}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--report-every", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--anchor", action="store_true", help="also run datasketch's in-memory MinHashLSH")
    args = parser.parse_args()
    import datasketch  # noqa: F401  (0.7 s of imports, kept out of the timings)

    if args.anchor:
        child = multiprocessing.get_context("fork").Process(target=run_anchor, args=(args.limit, args.report_every))
        child.start()
        child.join()
        print("ours: the dedup check, on-disk index")

    verifier = DedupVerifier()
    planted = Counter()
    caught = Counter()
    with tempfile.TemporaryDirectory() as state:
        verifier.open_state(Path(state), resume=False)
        wall = cpu = 0.0  # spent in the check only, not in generating rows
        chunk: list[tuple[Record, str | None]] = []
        done = 0
        print(f"{'rows':>10} {'wall rows/s':>12} {'CPU rows/s':>11} {'RSS MiB':>8} {'disk B/first':>13} "
              f"{'exact caught':>13} {'near caught':>12}")
        for item in generate(args.limit):
            chunk.append(item)
            if len(chunk) < args.chunk and item[0].line < args.limit:
                continue
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            verdicts = verifier.verify_batch([(record, {}) for record, _ in chunk])
            verifier.checkpoint()
            wall += time.perf_counter() - started_wall
            cpu += time.process_time() - started_cpu
            for (_, kind), verdict in zip(chunk, verdicts, strict=True):
                if kind:
                    planted[kind] += 1
                    caught[kind] += verdict.status == "fail"
            done += len(chunk)
            chunk = []
            if done % args.report_every == 0 or done == args.limit:
                firsts = verifier.index.counts()["kept"]
                disk = sum(path.stat().st_size for path in Path(state).iterdir())
                print(f"{done:>10,} {done / wall:>12,.0f} {done / cpu:>11,.0f} {rss_mib():>8.0f} {disk / firsts:>13,.0f} "
                      f"{caught['exact']:>6}/{planted['exact']:<6} {caught['near']:>5}/{planted['near']:<6}", flush=True)
        verifier.close()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
