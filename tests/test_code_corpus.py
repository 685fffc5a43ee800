"""Agreement with the labelled code corpus, on a fixed sample (bench/sandbox_agreement.py runs all)."""

from __future__ import annotations

import json

import pytest

from sandbox.verifier import CodeVerifier
from verify.records import Record

pytestmark = pytest.mark.docker

# The reference run's failure kinds (`verified.status`) have the same names as our codes:
# pass, assertion_failed, runtime_error, syntax_error, timeout -> code.<kind>.


def test_sample_agrees_with_labels_and_failure_kinds(corpora):
    rows = [json.loads(line) for line in (corpora / "code" / "sft_pairs.jsonl").open(encoding="utf-8")]
    sample = rows[::19]
    assert len(sample) == 61 and {row["variant"] for row in sample} >= {"canonical", "wrong_return", "syntax_error", "exception", "infinite_loop"}
    items = []
    for line, row in enumerate(sample, start=1):
        messages = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["response"]}]
        spec = {"language": "python", "tests": row["tests"], "entry_point": row["entry_point"]}
        items.append((Record(id=row["id"], line=line, messages=messages, checks={"code": spec}), spec))
    verifier = CodeVerifier({"timeout_s": 3})
    try:
        verdicts = verifier.verify_batch(items)
    finally:
        verifier.close()
    mismatches = [
        (row["id"], row["verified"]["status"], verdict.code, verdict.reason)
        for row, verdict in zip(sample, verdicts, strict=True)
        if verdict.code != f"code.{row['verified']['status']}" or (verdict.status == "pass") != row["expected_pass"]
    ]
    assert mismatches == []
