"""`verify data decontam-index` and `verify run --check decontam` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from spine import read_jsonl, run_verify, write_jsonl

REPO = Path(__file__).resolve().parent.parent


def test_index_then_run_rejects_contaminated_rows(tmp_path: Path, corpora: Path) -> None:
    missing = write_jsonl(tmp_path / "one.jsonl", [
        {"id": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}])
    before = run_verify(["run", str(missing), "-o", "before", "--check", "decontam"], tmp_path)
    errors = read_jsonl(tmp_path / "before" / "errors.jsonl")
    assert before.returncode == 2 and errors[0]["verdicts"][0]["code"] == "decontam.unavailable"
    assert "check 'decontam' could not run" in before.stderr
    assert errors[0]["verdicts"][0]["reason"].endswith("build it with: verify data decontam-index --builtin")

    built = run_verify(["data", "decontam-index", "--builtin", "--corpora", str(corpora)], tmp_path)
    assert built.returncode == 0, built.stderr
    assert "gsm8k: 400 items" in built.stdout

    gsm8k = [json.loads(line) for line in (corpora / "math" / "gsm8k_test_first400.jsonl").read_text().splitlines()]
    paraphrases = read_jsonl(REPO / "tests" / "data" / "dedup" / "paraphrases.jsonl")[:5]
    rows = [{"id": item["id"], "messages": [{"role": "user", "content": item["question"]},
                                            {"role": "assistant", "content": item["solution"]}]}
            for item in gsm8k[:20]]
    rows += [{"id": row["id"], "messages": row["messages"]} for row in paraphrases]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    result = run_verify(["run", str(data), "-o", "out", "--check", "decontam", "--workers", "2"], tmp_path)
    assert result.returncode == 1, result.stderr
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert [r["id"] for r in rejected] == [item["id"] for item in gsm8k[:20]]
    for row in rejected:
        verdict = row["verdicts"][0]
        assert verdict["details"]["benchmark"] == "gsm8k" and verdict["details"]["item"] == row["id"]
    kept = [json.loads(line)["id"] for line in (tmp_path / "out" / "kept.jsonl").read_text().splitlines()]
    assert kept == [row["id"] for row in paraphrases]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["checks"]["decontam"]["fail"] == 20
    assert report["checks"]["decontam"]["top_reasons"][0]["code"] == "decontam.overlap"

    # the gate can be relaxed per benchmark set: only IFEval → the GSM8K rows are kept
    only_ifeval = run_verify(["run", str(data), "-o", "ifeval", "--check", "decontam",
                              "--set", 'decontam.benchmarks=["ifeval"]'], tmp_path)
    assert only_ifeval.returncode == 0, only_ifeval.stderr
