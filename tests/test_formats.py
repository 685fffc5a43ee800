"""Input adapters: every common row shape becomes the canonical record, and detection picks one per file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spine import read_jsonl, run_verify, write_jsonl

from verify.formats import ADAPTERS, detect, rlvr_ifeval_spec, to_record
from verify.records import RecordError


def record(fmt: str, row: dict):
    return to_record(row, 7, ADAPTERS[fmt])


def test_openai_messages_with_content_parts() -> None:
    rec = record("messages", {"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "2+2?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "4"}, {"type": "image_url", "image_url": {}}]},
    ], "meta": {"k": 1}})
    assert rec.id == "line-7" and rec.response == "4" and rec.prompt == "2+2?"
    assert rec.checks == {} and rec.extra == {"meta": {"k": 1}}


def test_alpaca() -> None:
    rec = record("alpaca", {"instruction": "Add", "input": "2 and 3", "output": "5", "checks": {"math": {"answer": "5"}}})
    assert rec.messages == [{"role": "user", "content": "Add\n\n2 and 3"}, {"role": "assistant", "content": "5"}]
    assert rec.checks == {"math": {"answer": "5"}}
    with pytest.raises(RecordError, match="no 'output'"):
        record("alpaca", {"instruction": "x"})


def test_sharegpt_roles() -> None:
    rec = record("sharegpt", {"id": "s1", "conversations": [
        {"from": "system", "value": "sys"}, {"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"},
    ]})
    assert [m["role"] for m in rec.messages] == ["system", "user", "assistant"]
    assert rec.id == "s1"
    with pytest.raises(RecordError, match="unknown speaker 'alien'"):
        record("sharegpt", {"conversations": [{"from": "alien", "value": "x"}]})


def test_tulu_math_and_both_ifeval_encodings() -> None:
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    gsm = record("tulu", {"messages": msgs, "ground_truth": "18", "dataset": "gsm8k"})
    assert gsm.checks == {"math": {"answer": "18"}}
    math = record("tulu", {"messages": msgs, "ground_truth": ["\\frac{1}{2}"], "dataset": ["MATH"]})
    assert math.checks == {"math": {"answer": "\\frac{1}{2}"}}
    rlvr = record("tulu", {"messages": msgs, "dataset": "ifeval",
                           "ground_truth": json.dumps({"func_name": "validate_lowercase", "N": None})})
    assert rlvr.checks == {"constraints": {"instruction_id_list": ["tulu:validate_lowercase"], "kwargs": [{}]}}
    open_instruct = record("tulu", {"messages": msgs, "dataset": "ifeval", "ground_truth": json.dumps(
        [{"instruction_id": ["punctuation:no_comma", "length_constraints:number_words"],
          "kwargs": [None, {"relation": "at least", "num_words": 300}]}])})
    assert open_instruct.checks == {"constraints": {
        "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
        "kwargs": [{}, {"relation": "at least", "num_words": 300}]}}
    with pytest.raises(RecordError, match="neither 'func_name' nor 'instruction_id'"):
        rlvr_ifeval_spec('{"x": 1}')


def test_ifeval_rows_and_null_response() -> None:
    rec = record("ifeval", {"key": 1000, "prompt": "Write", "response": None,
                            "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
    assert rec.id == "1000" and rec.response == ""
    assert rec.checks["constraints"] == {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}


def test_humaneval_rows() -> None:
    rec = record("humaneval", {"task_id": "HumanEval/0", "prompt": "def f(x):\n", "completion": "    return x\n",
                               "test": "def check(candidate):\n    assert candidate(1) == 1\n", "entry_point": "f"})
    spec = rec.checks["code"]
    assert rec.id == "HumanEval/0" and spec["entry_point"] == "f" and spec["prompt_prefix"] == "def f(x):\n"
    assert spec["tests"].rstrip().endswith("check(f)")


def test_detection_votes_over_a_sample() -> None:
    rows = [{"instruction": "a", "output": "b"}] * 5 + [{"messages": []}]
    assert detect(rows)[0] == "alpaca"
    assert detect([{"conversations": []}])[0] == "sharegpt"
    assert detect([{"prompt": "p", "test": "t", "entry_point": "f"}])[0] == "humaneval"
    assert detect([{"prompt": "p", "instruction_id_list": []}])[0] == "ifeval"
    assert detect([{"messages": [], "ground_truth": "1", "dataset": "gsm8k"}])[0] == "tulu"


def test_auto_format_is_reported_and_forcing_works(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "alpaca.jsonl", [
        {"instruction": "say hi", "output": "hi", "checks": {"nonempty": {}}},
        {"instruction": "say nothing", "output": "  ", "checks": {"nonempty": {}}},
    ])
    result = run_verify(["run", str(data), "-o", "out", "--plugin", "pipeline_checks", "--json"], tmp_path)
    assert "format: alpaca (2 of the first 2 rows look like 'alpaca')" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "alpaca" and summary["counts"]["kept"] == 1
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")[0]
    assert rejected["record"]["messages"][0] == {"role": "user", "content": "say nothing"}
    forced = run_verify(["run", str(data), "-o", "o2", "--format", "sharegpt", "--json"], tmp_path)
    assert json.loads(forced.stdout)["counts"]["invalid"] == 2
