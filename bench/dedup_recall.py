"""Recall, precision and speed of the `dedup` check on planted near-duplicates in real text.

    python bench/dedup_recall.py [--limit 50000] [--planted 0.1] [--set threshold=0.7 ...]

The file: real SFT-shaped rows cut from ../shared/corpora (the 9,738 IFEval model responses
split into passages of 20-80 words, GSM8K and MATH problems with solutions, Qwen MATH
solutions, HumanEval/MBPP prompts with canonical solutions) and from the Python reference
manual text that ships with Python (`pydoc_data`). Base rows already near an earlier one
(exact word-3-shingle Jaccard >= 0.5, found with datasketch LSH at 0.3 and confirmed exactly)
are dropped, so every unplanted row is genuinely new.

The rest (at least `--planted`, default 10%, more when the corpora give fewer distinct base
rows) are planted copies of earlier rows, five kinds in equal numbers, placed at random later
positions:
  format    case, spacing and punctuation changed (what careless re-exports do);
  template  a short instruction prefixed to the prompt and a closing line added to the answer;
  light     1 word in 50 substituted, deleted, inserted or swapped (at least one edit);
  moderate  1 word in 20 edited the same way;
  truncate  the last 10% of the answer's words dropped (a generation cut short).

Recall = planted rows flagged / planted rows; precision = planted rows flagged / rows flagged.
The anchor is datasketch's in-memory MinHashLSH at the same threshold, with datasketch's
default SHA-1 shingle hashing, on the same rows in the same process (first occurrence kept,
only first occurrences inserted): the textbook in-memory dedup our on-disk index replaces.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verify.dedup.fingerprint import selected_turns, word_stream  # noqa: E402
from verify.dedup.verifier import DedupVerifier  # noqa: E402
from verify.records import Record  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
GENERATOR_VERSION = 3  # bump when the file or the tokenizer changes
KINDS = ("format", "template", "light", "moderate", "truncate")
PREFIXES = ("Please answer the following.", "Answer carefully:", "Here is a task for you.",
            "Read the request below and respond.", "Task:", "Help me with this, please.")
SUFFIXES = ("I hope this helps!", "Let me know if you have any other questions.", "Hope that answers it.",
            "Feel free to ask for more detail.")
TRUTH_SHINGLE = 3  # ground-truth similarity: exact Jaccard of word 3-shingles of user + assistant turns


# ---- base rows from real text ----------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def passages(text: str, low: int = 20, high: int = 80) -> list[str]:
    """Consecutive paragraphs grouped into passages of `low`..`high` words (long ones cut at sentences)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph.split()) <= high:
            pieces.append(paragraph)
            continue
        sentences = re.split(r"(?<=[.!?])\s+", paragraph)
        current: list[str] = []
        for sentence in sentences:
            current.append(sentence)
            if len(" ".join(current).split()) >= high // 2:
                pieces.append(" ".join(current))
                current = []
        if current:
            pieces.append(" ".join(current))
    out, current, count = [], [], 0
    for piece in pieces:
        current.append(piece)
        count += len(piece.split())
        if count >= low:
            out.append("\n\n".join(current))
            current, count = [], 0
    if current and count >= low // 2:
        out.append("\n\n".join(current))
    return out


def base_rows() -> list[tuple[str, str]]:
    """(prompt, response) pairs of real text, in a fixed order.

    A long answer becomes several rows: its first passage under the original prompt, the
    others under "Continue." (so that one prompt does not dominate many short rows).
    """
    rows: list[tuple[str, str]] = []
    for item in read_jsonl(CORPORA / "ifeval" / "responses.jsonl"):
        for number, passage in enumerate(passages(item.get("response") or "")):
            rows.append((item["prompt"] if number == 0 else "Continue.", passage))
    for item in read_jsonl(CORPORA / "math" / "gsm8k_test_first400.jsonl"):
        rows.append((item["question"], item["solution"]))
    problems = read_jsonl(CORPORA / "math" / "math_test_100_from_qwen_example.jsonl")
    for item in problems:
        rows.append((item["question"], item["solution"]))
    for item in read_jsonl(CORPORA / "math" / "realistic_responses.jsonl"):
        index = int(item["id"].split("-")[2])
        rows.append((problems[index]["question"], item["pred"]))
    for item in read_jsonl(CORPORA / "code" / "sft_pairs.jsonl"):
        if item.get("variant") == "canonical":
            rows.append((item["prompt"], item["response"]))
    from pydoc_data.topics import topics  # the Python reference manual's text, shipped with Python

    for name in sorted(topics):
        for number, passage in enumerate(passages(topics[name])):
            rows.append((f"Explain the Python topic '{name}'." if number == 0 else "Continue.", passage))
    return rows


def text_shingles(stream: list[str], size: int) -> list[bytes]:
    """Word shingles as text, the way datasketch users usually feed them (SHA-1 hashed inside)."""
    if len(stream) <= size:
        return [" ".join(stream).encode("utf-8")]
    return [" ".join(stream[i:i + size]).encode("utf-8") for i in range(len(stream) - size + 1)]


def truth_set(prompt: str, response: str) -> set[bytes]:
    turns = [("user", prompt), ("assistant", response)]
    return set(text_shingles(word_stream(turns), TRUTH_SHINGLE))


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def drop_near_base(rows: list[tuple[str, str]], wanted: int) -> list[tuple[str, str]]:
    """The first `wanted` rows with no earlier kept row at true Jaccard >= 0.5."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.3, num_perm=128)
    template = MinHash(num_perm=128)
    sets: dict[int, set[bytes]] = {}
    kept: list[tuple[str, str]] = []
    for number, (prompt, response) in enumerate(rows):
        if len(kept) >= wanted:
            break
        shingle_set = truth_set(prompt, response)
        minhash = template.copy()
        minhash.update_batch(shingle_set)
        if any(jaccard(shingle_set, sets[other]) >= 0.5 for other in lsh.query(minhash)):
            continue
        lsh.insert(number, minhash)
        sets[number] = shingle_set
        kept.append((prompt, response))
    return kept


# ---- planted copies --------------------------------------------------------------------------
def reformat(text: str, rng: random.Random) -> str:
    out = []
    for token in re.split(r"(\s+)", text):
        if token.isspace():
            out.append(rng.choice([" ", "  ", "\n"]) if rng.random() < 0.1 else token)
        elif rng.random() < 0.15:
            out.append(token.upper() if rng.random() < 0.5 else token.lower())
        elif token[-1:] in ".,;!?" and rng.random() < 0.3:
            out.append(token[:-1])
        else:
            out.append(token)
    return "".join(out)


def edit_words(text: str, rate: float, vocabulary: list[str], rng: random.Random) -> str:
    tokens = text.split()
    positions = [i for i in range(len(tokens)) if rng.random() < rate] or [rng.randrange(len(tokens))]
    for i in sorted(positions, reverse=True):
        operation = rng.choice(("substitute", "delete", "insert", "swap"))
        if operation == "substitute":
            tokens[i] = rng.choice(vocabulary)
        elif operation == "delete" and len(tokens) > 1:
            del tokens[i]
        elif operation == "insert":
            tokens.insert(i, rng.choice(vocabulary))
        elif i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    return " ".join(tokens)


def plant(kind: str, prompt: str, response: str, vocabulary: list[str], rng: random.Random) -> tuple[str, str]:
    if kind == "format":
        return reformat(prompt, rng), reformat(response, rng)
    if kind == "template":
        return f"{rng.choice(PREFIXES)} {prompt}", f"{response}\n\n{rng.choice(SUFFIXES)}"
    if kind in ("light", "moderate"):
        rate = 0.02 if kind == "light" else 0.05
        return edit_words(prompt, rate, vocabulary, rng), edit_words(response, rate, vocabulary, rng)
    tokens = response.split()
    keep = max(1, len(tokens) - max(1, len(tokens) // 10))
    return prompt, " ".join(tokens[:keep])


@dataclass
class Row:
    id: str
    prompt: str
    response: str
    source: str | None = None  # id of the row it copies (planted rows only)
    kind: str = "base"

    def record(self, line: int) -> Record:
        messages = [{"role": "user", "content": self.prompt}, {"role": "assistant", "content": self.response}]
        return Record(self.id, line, messages, {"dedup": {}})


def build_file(limit: int, planted_share: float, seed: int = 0) -> list[Row]:
    """`limit` rows: as many distinct base rows as the corpora give (up to limit x (1 - share)),
    the rest planted copies."""
    rng = random.Random(seed)
    base = drop_near_base(base_rows(), limit - int(limit * planted_share))
    planted_total = limit - len(base)
    rows = [Row(f"b{i}", prompt, response) for i, (prompt, response) in enumerate(base)]
    vocabulary = sorted({word for row in rows[:2000] for word in row.response.split() if word.isalpha()})
    keyed: list[tuple[float, Row]] = [(float(i), row) for i, row in enumerate(rows)]
    for number in range(planted_total):
        kind = KINDS[number % len(KINDS)]
        source_index = rng.randrange(len(rows))
        source = rows[source_index]
        prompt, response = plant(kind, source.prompt, source.response, vocabulary, rng)
        copy = Row(f"p{number}-{kind}", prompt, response, source.id, kind)
        keyed.append((rng.uniform(source_index + 0.5, len(rows)), copy))
    keyed.sort(key=lambda pair: pair[0])
    return [row for _, row in keyed]


def load_or_build(limit: int, planted_share: float, rebuild: bool) -> list[Row]:
    from verify.modelio import cache_dir

    path = cache_dir() / "bench" / f"dedup_recall_v{GENERATOR_VERSION}_{limit}_{planted_share}.jsonl"
    if path.exists() and not rebuild:
        with open(path, encoding="utf-8") as handle:
            return [Row(**json.loads(line)) for line in handle]
    rows = build_file(limit, planted_share)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row.__dict__, ensure_ascii=False) + "\n")
    return rows


# ---- the two systems -------------------------------------------------------------------------
def run_ours(rows: list[Row], options: dict[str, Any], chunk: int = 1000) -> tuple[dict[str, tuple[str, str]], float]:
    """{row id: (kind, duplicate id)} for flagged rows, and seconds; called as the pipeline calls it."""
    verifier = DedupVerifier(options)
    flagged: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory() as state:
        started = time.perf_counter()
        verifier.open_state(Path(state), resume=False)
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            items = [(row.record(start + i + 1), {}) for i, row in enumerate(part)]
            for row, verdict in zip(part, verifier.verify_batch(items), strict=True):
                if verdict.status == "fail":
                    flagged[row.id] = (verdict.code, verdict.details["duplicate_of"]["id"])
            verifier.checkpoint()
        seconds = time.perf_counter() - started
        verifier.close()
    return flagged, seconds


def run_anchor(rows: list[Row], options: dict[str, Any]) -> tuple[dict[str, tuple[str, str]], float]:
    """datasketch MinHashLSH in memory, same shingles and threshold, first occurrence kept."""
    from datasketch import MinHash, MinHashLSH

    settings = DedupVerifier.Options(**options)
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    template = MinHash(num_perm=settings.num_perm)
    signatures: dict[str, Any] = {}
    flagged: dict[str, tuple[str, str]] = {}
    for line, row in enumerate(rows, start=1):
        turns = selected_turns(row.record(line), settings.turns, settings.include_system)
        minhash = template.copy()
        minhash.update_batch(text_shingles(word_stream(turns), settings.shingle_words))
        best, best_id = -1.0, ""
        for other in lsh.query(minhash):
            score = minhash.jaccard(signatures[other])
            if score > best:
                best, best_id = score, other
        if best >= settings.threshold:
            flagged[row.id] = ("near", best_id)
            continue
        lsh.insert(row.id, minhash)
        signatures[row.id] = minhash
    return flagged, time.perf_counter() - started


def score(rows: list[Row], flagged: dict[str, tuple[str, str]]) -> dict[str, Any]:
    planted = [row for row in rows if row.source]
    caught = [row for row in planted if row.id in flagged]
    right_source = [row for row in caught if flagged[row.id][1] == row.source]
    by_kind = {
        kind: f"{sum(1 for r in caught if r.kind == kind)}/{sum(1 for r in planted if r.kind == kind)}" for kind in KINDS
    }
    false = [row_id for row_id in flagged if not row_id.startswith("p")]
    return {
        "recall": len(caught) / len(planted) if planted else 1.0,
        "precision": len(caught) / len(flagged) if flagged else 1.0,
        "right_source": len(right_source) / len(caught) if caught else 1.0,
        "flagged": len(flagged),
        "false_count": len(false),
        "by_kind": by_kind,
    }


def truth_buckets(rows: list[Row], flagged: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Recall of planted rows by their true Jaccard (word 3-shingles) to their source."""
    by_id = {row.id: row for row in rows}
    buckets: dict[str, list[int]] = {}
    for row in rows:
        if not row.source:
            continue
        source = by_id[row.source]
        value = jaccard(truth_set(row.prompt, row.response), truth_set(source.prompt, source.response))
        label = "<0.6" if value < 0.6 else "0.6-0.7" if value < 0.7 else "0.7-0.8" if value < 0.8 else \
            "0.8-0.9" if value < 0.9 else ">=0.9"
        bucket = buckets.setdefault(label, [0, 0])
        bucket[0] += row.id in flagged
        bucket[1] += 1
    order = ["<0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", ">=0.9"]
    return {label: f"{buckets[label][0]}/{buckets[label][1]}" for label in order if label in buckets}


def report(label: str, rows: list[Row], flagged: dict[str, tuple[str, str]], seconds: float, note: str = "") -> None:
    result = score(rows, flagged)
    print(f"{label:7s}: recall {result['recall']:.4f}  precision {result['precision']:.4f}  "
          f"source named right {result['right_source']:.4f}  flagged {result['flagged']}  "
          f"{len(rows) / seconds:,.0f} rows/s  ({seconds:.1f}s){note}")
    print(f"         recall by kind {result['by_kind']}")


def false_flag_truth(rows: list[Row], flagged: dict[str, tuple[str, str]]) -> str:
    """min / median / max true Jaccard (word 3-shingles) of unplanted flagged rows to the row they were matched to."""
    by_id = {row.id: row for row in rows}
    values = sorted(
        jaccard(truth_set(by_id[row_id].prompt, by_id[row_id].response),
                truth_set(by_id[other].prompt, by_id[other].response))
        for row_id, (_, other) in flagged.items() if not by_id[row_id].source
    )
    if not values:
        return "none"
    return f"min {values[0]:.2f}, median {values[len(values) // 2]:.2f}, max {values[-1]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=50000, help="rows in the file (default 50000)")
    parser.add_argument("--planted", type=float, default=0.1, help="share of planted near-duplicates (default 0.1)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a dedup option, e.g. threshold=0.8 (JSON values)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached file")
    parser.add_argument("--no-anchor", action="store_true", help="skip the datasketch MinHashLSH anchor")
    args = parser.parse_args()
    options: dict[str, Any] = {}
    for text in args.settings:
        key, _, value = text.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    settings = DedupVerifier.Options(**options)

    import datasketch  # noqa: F401  imported before any timing (0.7 s of scipy), for both systems

    started = time.perf_counter()
    rows = load_or_build(args.limit, args.planted, args.rebuild)
    planted = sum(1 for row in rows if row.source)
    print(f"file: {len(rows)} rows, {planted} planted copies ({time.perf_counter() - started:.1f}s to build/load)")
    print(f"settings: {settings.model_dump()}")

    ours, ours_seconds = run_ours(rows, options)
    report("ours", rows, ours, ours_seconds)
    print(f"         recall by true Jaccard to the source {truth_buckets(rows, ours)}")
    false_count = score(rows, ours)["false_count"]
    if false_count:
        print(f"         {false_count} unplanted rows flagged; true Jaccard to the row named: "
              f"{false_flag_truth(rows, ours)}")
    if not args.no_anchor:
        anchor, anchor_seconds = run_anchor(rows, options)
        report("anchor", rows, anchor, anchor_seconds, "   [datasketch MinHashLSH, in memory]")
        print(f"ratio  : ours/anchor rows/s {anchor_seconds / ours_seconds:.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
