"""The issue's acceptance bar on the external corpus (../shared/corpora/math), all unambiguous rows:
accuracy >= 0.97 and zero false positives on each file, every known anchor false positive rejected.
bench/math_accuracy.py prints the same figures next to math-verify's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verify.mathgrade.extract import GOLD_ORDER
from verify.mathgrade.verifier import MathVerifier
from verify.records import Record


@pytest.fixture(scope="module")
def math_verifier():
    verifier = MathVerifier()
    yield verifier
    verifier.close()


def _items(rows: list[dict]) -> list[tuple[Record, dict]]:
    items = []
    for index, row in enumerate(rows):
        spec = {"answer": row["gold"]}
        if row.get("pred_kind") == "answer":  # a bare answer, not a response: read it like a gold
            spec["extract"] = list(GOLD_ORDER)
        messages = [{"role": "user", "content": ""}, {"role": "assistant", "content": row["pred"]}]
        items.append((Record(row["id"], index + 1, messages, {}), spec))
    return items


@pytest.mark.slow
@pytest.mark.parametrize("name", ["labeled_pairs.jsonl", "realistic_responses.jsonl"])
def test_accuracy_and_no_false_positives(corpora: Path, math_verifier: MathVerifier, name: str) -> None:
    rows = [json.loads(line) for line in (corpora / "math" / name).open(encoding="utf-8")]
    rows = [row for row in rows if not row["ambiguous"]]
    verdicts = math_verifier.verify_batch(_items(rows))
    kept = [verdict.status == "pass" for verdict in verdicts]
    false_positives = [row["id"] for row, keep in zip(rows, kept, strict=True) if keep and not row["expected"]]
    correct = sum(keep == bool(row["expected"]) for row, keep in zip(rows, kept, strict=True))
    assert false_positives == []
    assert correct / len(rows) >= 0.97, f"accuracy {correct / len(rows):.3f} on {name}"


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("2", "\\boxed{200}"),  # Qwen's percent rule
        ("4", "\\boxed{4.0004}"),  # Qwen's 1e-4 tolerance
        ("\\frac{1}{2006!}", "\\boxed{\\frac{1}{2004!}}"),  # math-verify
        ("1+\\frac{1}{e}", "\\boxed{1-\\frac{1}{e}}"),  # math-verify
        ("1", "The answer is $1 - \\sqrt{2}$"),  # math-verify read a bare 1 - sqrt 2 as 1
    ],
)
def test_known_false_positives_of_the_anchors_are_rejected(
    math_verifier: MathVerifier, gold: str, response: str
) -> None:
    verdict = math_verifier.verify(Record("kfp", 1, [{"role": "assistant", "content": response}], {}), {"answer": gold})
    assert (verdict.status, verdict.code) == ("fail", "math.mismatch")
