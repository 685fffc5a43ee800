"""Agreement of the `code` check with all 1,154 labels of ../shared/corpora/code/sft_pairs.jsonl.

    python bench/sandbox_agreement.py [--limit N] [--timeout-s 6]

The anchor is the corpus's own labels: `expected_pass`, confirmed by running every program in
a hardened container with a 6 s limit, and the reference failure kind (`verified.status`:
assertion_failed, runtime_error, syntax_error, timeout). Printed: pass/fail agreement, the
failure-kind agreement, the confusion table, and every disagreement.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.progress import Progress  # noqa: E402
from sandbox_corpus import load_rows, to_record  # noqa: E402

from sandbox.verifier import CodeVerifier  # noqa: E402

# The reference run's failure kinds (`verified.status`) carry the same names as our verdict
# codes: pass, assertion_failed, runtime_error, syntax_error, timeout -> code.<kind>.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the first N rows")
    parser.add_argument("--timeout-s", type=float, default=6.0, help="CPU-time limit per program (the labels used 6 s)")
    args = parser.parse_args()

    rows = load_rows()[: args.limit]
    items = [to_record(row, line) for line, row in enumerate(rows, start=1)]
    verifier = CodeVerifier({"timeout_s": args.timeout_s})
    print(f"{len(items)} labelled programs, {verifier.config.size} containers, timeout {args.timeout_s:g} s CPU, load average {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    try:
        verdicts = []
        with Progress(transient=True) as progress:
            task = progress.add_task("verifying", total=len(items))
            for first in range(0, len(items), 50):
                verdicts += verifier.verify_batch(items[first : first + 50])
                progress.update(task, completed=len(verdicts))
    finally:
        verifier.close()
    wall = time.perf_counter() - started

    agree = sum((verdict.status == "pass") == row["expected_pass"] for row, verdict in zip(rows, verdicts, strict=True))
    kinds = sum(verdict.code == f"code.{row['verified']['status']}" for row, verdict in zip(rows, verdicts, strict=True))
    errors = sum(verdict.status == "error" for verdict in verdicts)
    print(f"pass/fail agreement with the labels: {agree}/{len(rows)} = {agree / len(rows):.4f}")
    print(f"failure-kind agreement with the reference run: {kinds}/{len(rows)} = {kinds / len(rows):.4f}")
    print(f"error verdicts (undecided): {errors}; wall {wall:.1f} s ({len(rows) / wall:.1f} programs/s incl. timeouts)")
    table = collections.Counter((row["verified"]["status"], verdict.code) for row, verdict in zip(rows, verdicts, strict=True))
    print("\nreference kind -> our verdict code: count")
    for (reference, ours), count in sorted(table.items()):
        print(f"  {reference:<17} -> {ours:<22} {count}")
    disagreements = [(row, verdict) for row, verdict in zip(rows, verdicts, strict=True) if (verdict.status == "pass") != row["expected_pass"]]
    print(f"\ndisagreements ({len(disagreements)}):")
    for row, verdict in disagreements:
        print(f"  {row['id']} label={'pass' if row['expected_pass'] else 'fail'} ours={verdict.status} {verdict.code}: {verdict.reason}")


if __name__ == "__main__":
    main()
