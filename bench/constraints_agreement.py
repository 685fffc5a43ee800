"""Agreement of the `constraints` checkers with the IFEval reference verdicts, per instruction id.

    python bench/constraints_agreement.py [--limit N] [--show 20]

Scores every row of ../shared/corpora/ifeval (9,738 responses, 15,012 instructions; null
responses as "") in strict and loose mode and compares each instruction's verdict with
`reference_verdicts.jsonl` (google-research's current IFEval code, nltk punkt, langdetect
seed 0). Prints a table per id, prompt-level and instruction-level accuracies of both, and
the disagreeing rows with our reason. Exits 1 if any verdict differs or errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpora" / "ifeval"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N rows")
    parser.add_argument("--show", type=int, default=20, help="print at most this many disagreeing rows")
    args = parser.parse_args()

    from rich.progress import track

    from constraints import evaluate

    rows = [json.loads(line) for line in (CORPUS / "responses.jsonl").open()][: args.limit]
    verdicts = [json.loads(line) for line in (CORPUS / "reference_verdicts.jsonl").open()][: args.limit]
    total: Counter[str] = Counter()
    agree: Counter[tuple[str, str]] = Counter()
    passes: Counter[tuple[str, str]] = Counter()
    prompt_level: Counter[tuple[str, str]] = Counter()
    disagreements = []
    for line, (row, reference) in enumerate(
        track(list(zip(rows, verdicts, strict=True)), description="scoring", transient=True)
    ):
        response = row["response"] or ""
        for instruction_id in row["instruction_id_list"]:
            total[instruction_id] += 1
        for mode in ("strict", "loose"):
            results = evaluate(response, row["instruction_id_list"], row["kwargs"], mode, row["prompt"])
            ours = [result.status == "pass" for result in results]
            prompt_level["ours", mode] += all(ours)
            prompt_level["reference", mode] += reference[f"prompt_{mode}"]
            for result, expected in zip(results, reference[mode], strict=True):
                passes["ours", mode] += result.status == "pass"
                passes["reference", mode] += expected
                if (result.status == "pass") == expected and result.status != "error":
                    agree[result.instruction_id, mode] += 1
                else:
                    disagreements.append((line, row["key"], row["model"], result, mode, expected))

    print(f"{'instruction id':48} {'n':>6} {'strict agree':>13} {'loose agree':>12}")
    for instruction_id in sorted(total):
        n = total[instruction_id]
        print(
            f"{instruction_id:48} {n:6d} {agree[instruction_id, 'strict']:6d}/{n:<6d} {agree[instruction_id, 'loose']:5d}/{n:<6d}"
        )
    instructions = sum(total.values())
    strict_agree = sum(v for (_, mode), v in agree.items() if mode == "strict")
    loose_agree = sum(v for (_, mode), v in agree.items() if mode == "loose")
    print(f"{'all':48} {instructions:6d} {strict_agree:6d}/{instructions:<6d} {loose_agree:5d}/{instructions:<6d}")
    for who in ("ours", "reference"):
        print(
            f"{who:9} prompt-level strict {prompt_level[who, 'strict'] / len(rows):.3f} loose {prompt_level[who, 'loose'] / len(rows):.3f}; "
            f"instruction-level strict {passes[who, 'strict'] / instructions:.3f} loose {passes[who, 'loose'] / instructions:.3f}"
        )
    print(f"disagreeing or errored verdicts: {len(disagreements)}")
    for line, key, model, result, mode, expected in disagreements[: args.show]:
        print(
            f"  line {line} key {key} ({model}) {result.instruction_id} {mode}: ours {result.status} "
            f"[{result.reason}] reference {'pass' if expected else 'fail'}"
        )
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
