"""`verify run --check dedup` end to end: a SIGKILL and `--resume`, and the Ray engine."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spine import cli_env, read_jsonl, run_verify, without_seconds, write_jsonl

from verify.state import read_committed


def conversation(prompt: str, response: str, **fields) -> dict:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], **fields}


def rows_with_copies(count: int, seed: int = 0) -> list[dict]:
    """Distinct rows, with every third one a copy (exact, re-cased or one word changed) of an earlier one."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for number in range(count):
        if number % 3 == 2:
            source = rows[rng.randrange(len(rows))]["messages"]
            prompt, response = source[0]["content"], source[1]["content"]
            kind = number % 9
            if kind == 2:
                copy = conversation(prompt.upper(), response)
            elif kind == 5:
                copy = conversation(prompt, response.replace("number", "figure", 1))
            else:
                copy = conversation(prompt, response)
        else:
            words = " ".join(rng.choice(["apple", "river", "stone", "cloud", "lamp", "seven", "green", "north"])
                             for _ in range(12))
            copy = conversation(f"Question {number}: describe {words}.",
                                f"Answer {number}: the number {number * 7} and {words} in {number % 97} parts.")
        rows.append({"id": f"row-{number}", **copy})
    return rows


def test_dedup_through_verify_run(tmp_path: Path) -> None:
    rows = [
        conversation("What is 2 + 2?", "2 + 2 = 4.", id="a"),
        conversation("Name a prime number.", "7 is prime.", id="b"),
        conversation("what is 2 + 2?", "2 + 2 = 4.", id="c"),
        conversation("Name a prime number", "7 is prime", id="d"),
    ]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    result = run_verify(["run", str(data), "-o", "out", "--check", "dedup", "--workers", "0"], tmp_path)
    assert result.returncode == 1, result.stderr
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert [(r["id"], r["verdicts"][0]["code"]) for r in rejected] == [("c", "dedup.exact"), ("d", "dedup.near")]
    assert rejected[0]["verdicts"][0]["reason"].startswith("exact duplicate of line 1 (id 'a')")
    assert rejected[1]["verdicts"][0]["reason"].startswith("near-duplicate of line 2 (id 'b'): estimated similarity 1.00")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["checks"]["dedup"]["fail"] == 2 and report["checks"]["dedup"]["pass"] == 2
    assert {r["code"] for r in report["checks"]["dedup"]["top_reasons"]} == {"dedup.exact", "dedup.near"}
    # options come from --set; exact-only mode keeps the punctuation variant
    result = run_verify(["run", str(data), "-o", "out2", "--check", "dedup", "--set", "dedup.near=false"], tmp_path)
    assert [r["id"] for r in read_jsonl(tmp_path / "out2" / "rejected.jsonl")] == ["c"]
    bad = run_verify(["run", str(data), "-o", "out3", "--check", "dedup", "--set", "dedup.threshold=2"], tmp_path)
    assert bad.returncode == 2 and "threshold" in bad.stderr


def test_sigkill_then_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", rows_with_copies(9000))
    clean = run_verify(["run", str(data), "-o", "clean", "--check", "dedup", "--workers", "0"], tmp_path)
    assert clean.returncode == 1, clean.stderr

    command = [sys.executable, "-m", "verify.cli", "run", str(data), "-o", "killed", "--check", "dedup",
               "--workers", "0", "--quiet"]
    process = subprocess.Popen(command, cwd=tmp_path, env=cli_env(tmp_path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    next_line, finished = 1, False
    while time.monotonic() < deadline and process.poll() is None:
        progress = read_committed(tmp_path / "killed")
        next_line, finished = (progress.next_line, progress.finished) if progress else (1, False)
        if next_line > 1:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert next_line > 1 and not finished, "the run ended before it could be killed mid-way; use a bigger file"

    resumed = run_verify(["run", str(data), "-o", "killed", "--check", "dedup", "--workers", "0", "--resume"], tmp_path)
    assert resumed.returncode == 1, resumed.stderr
    assert f"resume: continuing at line {next_line}" in resumed.stderr
    for name in ("kept", "rejected"):
        assert (tmp_path / "killed" / f"{name}.jsonl").exists()
    assert (tmp_path / "killed" / "kept.jsonl").read_bytes() == (tmp_path / "clean" / "kept.jsonl").read_bytes()
    assert without_seconds(read_jsonl(tmp_path / "killed" / "rejected.jsonl")) == \
        without_seconds(read_jsonl(tmp_path / "clean" / "rejected.jsonl"))
    rejected = read_jsonl(tmp_path / "clean" / "rejected.jsonl")
    assert len(rejected) == 3000
    # copies made after the kill point of rows before it were still caught
    assert any(r["line"] > next_line and r["verdicts"][0]["details"]["duplicate_of"]["line"] < next_line
               for r in rejected)


@pytest.mark.slow
def test_ray_engine_gives_the_local_engines_verdicts(tmp_path: Path, corpora: Path) -> None:
    """dedup runs in the Ray driver (in input order), decontam in Ray tasks: same outputs as locally."""
    pytest.importorskip("ray")
    built = run_verify(["data", "decontam-index", "--builtin", "--only", "gsm8k", "--corpora", str(corpora)], tmp_path)
    assert built.returncode == 0, built.stderr
    questions = [json.loads(line)["question"] for line in
                 (corpora / "math" / "gsm8k_test_first400.jsonl").read_text().splitlines()[:30]]
    rows = rows_with_copies(300)
    for number, question in enumerate(questions):
        rows.insert(number * 10, {"id": f"gsm8k-{number}", **conversation(question, "Let me think.")})
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    args = ["--check", "dedup", "--check", "decontam", "--set", 'decontam.benchmarks=["gsm8k"]', "--workers", "2"]
    local = run_verify(["run", str(data), "-o", "local", *args], tmp_path)
    remote = run_verify(["run", str(data), "-o", "ray", *args, "--engine", "ray"], tmp_path,
                        RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    assert local.returncode == remote.returncode == 1, remote.stderr
    assert (tmp_path / "ray" / "kept.jsonl").read_bytes() == (tmp_path / "local" / "kept.jsonl").read_bytes()
    rejected = without_seconds(read_jsonl(tmp_path / "ray" / "rejected.jsonl"))
    assert rejected == without_seconds(read_jsonl(tmp_path / "local" / "rejected.jsonl"))
    codes = {verdict["code"] for row in rejected for verdict in row["verdicts"] if verdict["status"] == "fail"}
    assert codes == {"dedup.exact", "dedup.near", "decontam.overlap"}
