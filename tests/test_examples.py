"""The bundled examples run through every real verifier (Docker included) with known outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spine import read_jsonl, run_verify

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ids(out: Path, outcome: str) -> list[str | int]:
    """Record ids in an output file (line numbers for invalid rows, which have no id)."""
    key = "line" if outcome == "invalid" else "id"
    return [row[key] for row in read_jsonl(out / f"{outcome}.jsonl")]


@pytest.mark.docker
def test_mixed_example_shows_every_outcome(tmp_path: Path) -> None:
    result = run_verify(["run", str(EXAMPLES / "mixed.jsonl"), "-o", "out", "--json"], tmp_path)
    assert result.returncode == 1, result.stderr
    out = tmp_path / "out"
    assert ids(out, "kept") == ["math-gsm8k-pass", "math-tulu-pass", "math-percent-pass", "code-pass",
                                "code-stdio-pass", "constraints-pass", "translation-pass"]
    assert ids(out, "rejected") == ["math-wrong-answer", "code-wrong-output", "constraints-commas",
                                    "translation-number-changed"]
    assert ids(out, "errors") == ["constraints-bad-kwarg"]
    assert ids(out, "unchecked") == ["multi-turn-unchecked"]
    assert ids(out, "invalid") == [10, 15]
    summary = json.loads(result.stdout)
    assert summary["adds_up"] and summary["unavailable"] == {}
    reasons = {row["id"]: row["verdicts"][0]["reason"] for row in read_jsonl(out / "rejected.jsonl")}
    assert reasons["math-wrong-answer"] == "extracted 5 (boxed); gold 4"
    assert reasons["translation-number-changed"].startswith("numbers changed: 30 in the source is missing")


@pytest.mark.docker
@pytest.mark.parametrize(("name", "fmt", "kept", "rejected"), [
    ("alpaca", "alpaca", 2, 0), ("sharegpt", "sharegpt", 1, 1), ("tulu_rlvr", "tulu", 3, 0),
    ("ifeval", "ifeval", 1, 1), ("humaneval", "humaneval", 1, 1),
])
def test_each_input_shape_example(tmp_path: Path, name: str, fmt: str, kept: int, rejected: int) -> None:
    result = run_verify(["run", str(EXAMPLES / f"{name}.jsonl"), "-o", "out", "--json"], tmp_path)
    summary = json.loads(result.stdout)
    assert summary["format"] == fmt
    assert (summary["counts"]["kept"], summary["counts"]["rejected"]) == (kept, rejected)
    assert summary["counts"]["invalid"] == 0 and summary["counts"]["errors"] == 0


def test_code_rows_without_an_engine_are_errors_and_exit_2(tmp_path: Path) -> None:
    result = run_verify(["run", str(EXAMPLES / "mixed.jsonl"), "-o", "out", "--json"], tmp_path,
                        DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode == 2
    assert "check 'code' could not run" in result.stderr
    errors = {row["id"]: row["verdicts"] for row in read_jsonl(tmp_path / "out" / "errors.jsonl")}
    for name in ("code-pass", "code-stdio-pass", "code-wrong-output"):
        assert [v["code"] for v in errors[name]] == ["code.unavailable"]
    assert json.loads(result.stdout)["counts"]["kept"] == 5  # no code row is kept, none is rejected
