"""The CI gate: GitHub annotations, the step summary, and `--changed-since` on a real git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from spine import chat, read_jsonl, run_verify, write_jsonl

from verify.gate import STEP_SUMMARY_LIMIT, GateDecision, annotations, write_step_summary

PLUGIN = ["--plugin", "pipeline_checks"]


def test_github_annotations_for_the_ten_worst_rows(tmp_path: Path) -> None:
    rows = [chat("fine", checks={"nonempty": {}})]
    rows += [chat(" ", id=f"blank-{i}", checks={"nonempty": {}}) for i in range(12)]
    rows += [chat("no, here", id="two-fails", checks={"nonempty": {}, "contains": {"text": "zzz"}, "mainside": {"ok": False}})]
    rows += ["{broken"]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    summary_file = tmp_path / "summary.md"
    result = run_verify(["run", "data.jsonl", "-o", "out", *PLUGIN, "--github"], tmp_path,
                        GITHUB_STEP_SUMMARY=str(summary_file))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(lines) == 10
    # worst first: the unreadable row, then the row with most failing checks, then by line
    assert lines[0] == "::error file=data.jsonl,line=15,title=sft-verify%3A invalid row::invalid: malformed JSON: " \
                       "Expecting property name enclosed in double quotes at column 2"
    assert lines[1].startswith("::error file=data.jsonl,line=14,title=sft-verify%3A row two-fails::")
    assert "contains: does not contain 'zzz'" in lines[1] and "mainside: not ok" in lines[1]
    assert lines[2] == "::error file=data.jsonl,line=2,title=sft-verify%3A row blank-0::nonempty: response is blank"
    assert data.exists()
    summary = summary_file.read_text()
    assert summary.startswith("## sft-verify")
    assert "| nonempty | 1 | 2 | 12 | 0 | 0 | 0 |" in summary
    assert "**gate failed: 13 rejected, 1 invalid** (exit 1)" in summary


def test_annotation_escaping() -> None:
    summary = {"worst_rows": [{"line": 3, "id": "a,b:c", "messages": ["50% wrong\nsecond line"]}]}
    assert annotations(summary, "dir/data,1.jsonl") == [
        "::error file=dir/data%2C1.jsonl,line=3,title=sft-verify%3A row a%2Cb%3Ac::50%25 wrong%0Asecond line"
    ]


def test_step_summary_stays_under_githubs_cap(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_bytes(b"x" * (STEP_SUMMARY_LIMIT - 100))
    data = {
        "counts": {"kept": 0, "rejected": 1, "errors": 0, "unchecked": 0, "invalid": 0, "blank": 0, "unchanged": 0},
        "input_lines": 1, "format": "messages", "format_reason": "", "adds_up": True, "checks": {},
        "invalid_reasons": [], "seconds": 1.0, "rows_per_second": 1.0,
    }
    write_step_summary(data, GateDecision(1, "gate failed"), target)
    assert target.stat().st_size <= STEP_SUMMARY_LIMIT


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def test_changed_since_verifies_only_changed_lines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    rows = [chat(f"answer {i}", id=f"r{i}", checks={"nonempty": {}}) for i in range(1000)]
    write_jsonl(repo / "data.jsonl", rows)
    git(repo, "add", "data.jsonl")
    git(repo, "commit", "-q", "-m", "base")
    rows[10] = chat(" ", id="r10", checks={"nonempty": {}})           # changed, now failing
    rows[500] = chat("changed but fine", id="r500", checks={"nonempty": {}})
    rows.insert(700, chat("inserted", id="new", checks={"nonempty": {}}))
    del rows[900]
    write_jsonl(repo / "data.jsonl", rows)
    result = run_verify(["run", "data.jsonl", "-o", "out", *PLUGIN, "--changed-since", "main", "--json"], tmp_path,
                        cwd=repo)
    summary = json.loads(result.stdout)
    assert summary["rows"] == 3
    assert summary["counts"]["unchanged"] == 997
    assert summary["adds_up"]
    assert [row["line"] for row in read_jsonl(repo / "out" / "rejected.jsonl")] == [11]
    assert [json.loads(line)["id"] for line in (repo / "out" / "kept.jsonl").read_text().splitlines()] == ["r500", "new"]
    assert result.returncode == 1

    unknown = run_verify(["run", "data.jsonl", "-o", "o2", "--changed-since", "no-such-ref"], tmp_path, cwd=repo)
    assert unknown.returncode == 2 and "unknown git ref 'no-such-ref'" in unknown.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    write_jsonl(plain / "data.jsonl", rows[:2])
    outside = run_verify(["run", "data.jsonl", "-o", "o3", "--changed-since", "main"], tmp_path, cwd=plain,
                         GIT_CEILING_DIRECTORIES=str(tmp_path))
    assert outside.returncode == 2 and "is not inside a git repository" in outside.stderr


def test_changed_since_with_nothing_changed_passes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_jsonl(repo / "data.jsonl", [chat(" ", checks={"nonempty": {}})])
    git(repo, "add", "data.jsonl")
    git(repo, "commit", "-q", "-m", "base")
    result = run_verify(["run", "data.jsonl", "-o", "out", *PLUGIN, "--changed-since", "HEAD", "--json"], tmp_path,
                        cwd=repo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["unchanged"] == 1


def test_changed_since_catches_an_id_that_an_unchanged_row_already_has(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    rows = [chat(f"answer {i}", id=f"r{i}", checks={"nonempty": {}}) for i in range(1000)]
    rows[300] = chat("no id here", checks={"nonempty": {}})  # line 301; line 302 after the insert below
    rows[600] = chat("path-like id", id="HumanEval/7", checks={"nonempty": {}})
    write_jsonl(repo / "data.jsonl", rows)
    git(repo, "add", "data.jsonl")
    git(repo, "commit", "-q", "-m", "base")
    rows.insert(5, chat("reuses a later id", id="r900", checks={"nonempty": {}}))
    rows.insert(950, chat("reuses an earlier id", id="r12", checks={"nonempty": {}}))
    rows.append(chat("takes a default id", id="line-302", checks={"nonempty": {}}))
    rows.append(chat("reuses a path id", id="HumanEval/7", checks={"nonempty": {}}))
    rows.append(chat("fresh", id="brand-new", checks={"nonempty": {}}))
    rows.append(chat("fresh again", id="brand-new", checks={"nonempty": {}}))
    write_jsonl(repo / "data.jsonl", rows)
    result = run_verify(["run", "data.jsonl", "-o", "out", *PLUGIN, "--changed-since", "main", "--json"], tmp_path,
                        cwd=repo)
    summary = json.loads(result.stdout)
    assert summary["rows"] == 6 and summary["counts"]["unchanged"] == 1000 and summary["adds_up"]
    invalid = {row["line"]: row["error"] for row in read_jsonl(repo / "out" / "invalid.jsonl")}
    assert invalid == {
        6: "duplicate id 'r900': line 902 uses it too and is not part of the change",
        951: "duplicate id 'r12': line 14 uses it too and is not part of the change",
        1003: "duplicate id 'line-302': line 302 uses it too and is not part of the change",
        1004: "duplicate id 'HumanEval/7': line 602 uses it too and is not part of the change",
        1006: "duplicate id 'brand-new': first used on line 1005",
    }
    assert [json.loads(line)["id"] for line in (repo / "out" / "kept.jsonl").read_text().splitlines()] == ["brand-new"]
    assert result.returncode == 1


def test_changed_since_on_a_file_git_does_not_track_verifies_every_row(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_jsonl(repo / "other.jsonl", [chat("x")])
    git(repo, "add", "other.jsonl")
    git(repo, "commit", "-q", "-m", "base")
    write_jsonl(repo / "data.jsonl", [chat(f"a{i}", id=f"r{i}", checks={"nonempty": {}}) for i in range(5)])
    result = run_verify(["run", "data.jsonl", "-o", "out", *PLUGIN, "--changed-since", "main", "--json"], tmp_path,
                        cwd=repo)
    summary = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert summary["rows"] == 5 and summary["counts"]["unchanged"] == 0


def test_changed_ids_are_found_however_the_unchanged_line_spells_them(tmp_path: Path) -> None:
    from verify.changed_ids import ids_on_unchanged_lines
    from verify.chunk import ChunkConfig, LineParser

    lines = [
        '{"id": "\\u0072\\u0031", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}',
        '{"id": "caf\\u00E9", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}',
        '{"id": "r1", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}',
        '{"id": "caf\u00e9", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}',
        '{"id": "r2", "checks": {"no-such-check": {}}, "messages": [{"role": "user", "content": "q"}, '
        '{"role": "assistant", "content": "a"}]}',
        '{"id": "r2", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}',
    ]
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parser = LineParser(ChunkConfig(format="messages"))
    # line 5 is invalid in a run (unknown check), so it holds no id
    assert ids_on_unchanged_lines(data, frozenset({3, 4, 6}), parser) == {"r1": 1, "café": 2}
