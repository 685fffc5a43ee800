"""`verify run` end to end through the real CLI: outcomes, files, counts, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spine import chat, read_jsonl, run_verify, write_jsonl

from verify.manifest import row_hash

PLUGIN = ["--plugin", "pipeline_checks"]


def outputs(out: Path) -> dict[str, list]:
    return {name: read_jsonl(out / f"{name}.jsonl") for name in ("kept", "rejected", "errors", "unchecked", "invalid")}


def test_every_outcome_lands_in_exactly_one_file(tmp_path: Path) -> None:
    rows = [
        chat("hello", id="keep"),
        chat("   ", id="reject", checks={"nonempty": {}}),
        chat("x", id="error", checks={"mainside": {"ok": "error"}}),
        chat("x", id="nocheck", checks={}),
        "{not json",
        "",
    ]
    rows[0]["checks"] = {"nonempty": {}, "contains": {"text": "ell"}}
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN, "--workers", "2"], tmp_path)
    assert result.returncode == 1, result.stderr
    out = outputs(tmp_path / "out")
    assert [r["id"] for r in out["rejected"]] == ["reject"]
    assert [r["id"] for r in out["errors"]] == ["error"]
    assert [r["id"] for r in out["unchecked"]] == ["nocheck"]
    assert [r["line"] for r in out["invalid"]] == [5]
    assert out["invalid"][0]["raw"] == "{not json"
    # kept rows are the input line byte for byte
    assert (tmp_path / "out" / "kept.jsonl").read_text().splitlines() == [json.dumps(rows[0])]
    rejected = out["rejected"][0]
    assert rejected["line"] == 2
    assert rejected["verdicts"][0] | {"seconds": 0} == {
        "check": "nonempty", "status": "fail", "reason": "response is blank", "code": "nonempty.blank",
        "details": {}, "seconds": 0,
    }
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"] == {"kept": 1, "rejected": 1, "errors": 1, "unchecked": 1, "invalid": 1,
                                "blank": 1, "unchanged": 0}
    assert report["adds_up"] is True
    assert "add up to the 6 input lines" in (tmp_path / "out" / "report.md").read_text()


def test_manifest_fingerprints_every_kept_row(tmp_path: Path) -> None:
    rows = [chat(f"answer {i}", checks={"nonempty": {}}) for i in range(5)] + [chat(" ", checks={"nonempty": {}})]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    run_verify(["run", str(data), "-o", "out", *PLUGIN], tmp_path)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    kept_lines = (tmp_path / "out" / "kept.jsonl").read_bytes().splitlines()
    assert manifest["kept"]["rows"] == 5
    assert manifest["kept"]["row_sha256"] == [row_hash(line) for line in kept_lines]
    assert manifest["input"]["format"] == "messages"
    assert manifest["input"]["lines"] == 6
    assert {"name": "nonempty", "version": "1", "options": {}, "available": True} in manifest["verifiers"]
    assert manifest["tool"] == "sft-verify"


def test_exit_codes_and_min_pass_rate(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [chat("a", checks={"nonempty": {}})] * 1)
    assert run_verify(["run", str(good), "-o", "o1", *PLUGIN], tmp_path).returncode == 0
    mixed = write_jsonl(tmp_path / "mixed.jsonl",
                        [chat(f"a{i}", checks={"nonempty": {}}) for i in range(9)] + [chat(" ", checks={"nonempty": {}})])
    assert run_verify(["run", str(mixed), "-o", "o2", *PLUGIN], tmp_path).returncode == 1
    assert run_verify(["run", str(mixed), "-o", "o3", *PLUGIN, "--min-pass-rate", "0.9"], tmp_path).returncode == 0
    assert run_verify(["run", str(mixed), "-o", "o4", *PLUGIN, "--min-pass-rate", "0.95"], tmp_path).returncode == 1
    usage = run_verify(["run", str(mixed), "-o", "o5", "--format", "nope"], tmp_path)
    assert usage.returncode == 2 and "nope" in usage.stderr
    # errors alone do not fail the gate (they are re-runnable), per DESIGN.md §4
    errors = write_jsonl(tmp_path / "errors.jsonl", [chat("a", checks={"mainside": {"ok": "error"}})])
    assert run_verify(["run", str(errors), "-o", "o6", *PLUGIN], tmp_path).returncode == 0


def test_unavailable_verifier_is_an_environment_error(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat("a", checks={"needs_missing": {}}), chat("b", checks={})])
    result = run_verify(["run", str(data), "-o", "out", "--plugin", "unavailable_check"], tmp_path)
    assert result.returncode == 2
    assert "needs_missing" in result.stderr and "pip install" in result.stderr
    errors = read_jsonl(tmp_path / "out" / "errors.jsonl")
    assert errors[0]["verdicts"][0]["status"] == "error"
    assert errors[0]["verdicts"][0]["code"] == "needs_missing.unavailable"


def test_json_summary(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat("a", checks={"nonempty": {}}), chat(" ", checks={"nonempty": {}})])
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN, "--json"], tmp_path)
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 1
    assert summary["counts"]["kept"] == 1 and summary["counts"]["rejected"] == 1
    assert summary["checks"]["nonempty"]["fail"] == 1
    assert summary["checks"]["nonempty"]["top_reasons"][0]["code"] == "nonempty.blank"


def test_plain_progress_when_not_a_terminal(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat("a", checks={"nonempty": {}})])
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN], tmp_path)
    assert "format: messages" in result.stderr
    assert "done: rows=1 " in result.stderr
    assert "\x1b[" not in result.stderr  # no terminal escape codes in CI logs


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("{bad", "invalid.json", "malformed JSON"),
        ("[1, 2]", "invalid.not_object", "expected a JSON object, got list"),
        ('{"id": "x"}', "invalid.record", "missing 'messages'"),
        ('{"messages": []}', "invalid.record", "'messages' is empty"),
        ('{"messages": [{"role": "user", "content": "q"}]}', "invalid.record", "no assistant turn"),
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "checks": {"nope": {}}}',
         "invalid.unknown_check", "unknown check 'nope'"),
        ('{"messages": [{"role": "assistant", "content": "a"}], "checks": {"math": "5"}}', "invalid.record",
         "checks.math must be an object"),
    ],
)
def test_bad_rows_become_located_invalid_rows(tmp_path: Path, line: str, code: str, message: str) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat("fine", checks={"nonempty": {}}), line])
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN, "--json"], tmp_path)
    assert result.returncode == 1
    invalid = read_jsonl(tmp_path / "out" / "invalid.jsonl")
    assert len(invalid) == 1 and invalid[0]["line"] == 2
    assert message in invalid[0]["error"]
    assert json.loads(result.stdout)["invalid_reasons"][0]["code"] == code
    assert len(read_jsonl(tmp_path / "out" / "kept.jsonl")) == 1


def test_invalid_utf8_duplicate_id_and_huge_line(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    good = json.dumps(chat("fine", id="a", checks={"nonempty": {}})).encode()
    huge = json.dumps(chat("x" * (10 * 1024 * 1024), checks={"nonempty": {}})).encode()
    data.write_bytes(good + b"\n" + b'{"id": "\xff\xfe"}\n' + good + b"\n" + huge + b"\n" + good.replace(b'"a"', b'"b"') + b"\n")
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN], tmp_path)
    assert result.returncode == 1
    invalid = {row["line"]: row for row in read_jsonl(tmp_path / "out" / "invalid.jsonl")}
    assert invalid[2]["error"].startswith("invalid UTF-8 at byte 8")
    assert invalid[3]["error"] == "duplicate id 'a': first used on line 1"
    assert invalid[4]["error"].startswith("line is 10,485,") and "--max-line-bytes" in invalid[4]["error"]
    assert len(invalid[4]["raw"]) < 4000  # the 10 MB line is not copied whole into invalid.jsonl
    assert [json.loads(line)["id"] for line in (tmp_path / "out" / "kept.jsonl").read_text().splitlines()] == ["a", "b"]


def test_whole_input_problems_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_verify(["run", str(empty), "-o", "out"], tmp_path)
    assert result.returncode == 2 and "has no rows" in result.stderr
    missing = run_verify(["run", str(tmp_path / "missing.jsonl"), "-o", "out"], tmp_path)
    assert missing.returncode == 2 and "input file not found" in missing.stderr
    data = write_jsonl(tmp_path / "data.jsonl", [chat("a")])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should go")
    unwritable = run_verify(["run", str(data), "-o", str(blocker / "out")], tmp_path)
    assert unwritable.returncode == 2 and "not writable" in unwritable.stderr
    bad_set = run_verify(["run", str(data), "-o", "out", "--set", "oops"], tmp_path)
    assert bad_set.returncode == 2 and "CHECK.KEY=VALUE" in bad_set.stderr


def test_crashing_verifier_and_dying_worker_become_errors(tmp_path: Path) -> None:
    rows = [chat("fine", checks={"crashy": {}}), chat("raise", checks={"crashy": {}}),
            chat("die", checks={"crashy": {}}), chat("fine again", checks={"crashy": {}})]
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN, "--workers", "2", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    errors = {row["line"]: row["verdicts"][0] for row in read_jsonl(tmp_path / "out" / "errors.jsonl")}
    assert errors[2]["code"] == "crashy.crash" and "RuntimeError: boom" in errors[2]["reason"]
    assert errors[3]["code"] == "crashy.worker_died"
    assert len(read_jsonl(tmp_path / "out" / "kept.jsonl")) == 2


def test_verdict_cache_is_used_and_bypassed(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat(f"a{i}", checks={"nonempty": {}}) for i in range(20)])
    first = json.loads(run_verify(["run", str(data), "-o", "o1", *PLUGIN, "--json"], tmp_path).stdout)
    second = json.loads(run_verify(["run", str(data), "-o", "o2", *PLUGIN, "--json"], tmp_path).stdout)
    bypass = json.loads(run_verify(["run", str(data), "-o", "o3", *PLUGIN, "--json", "--no-cache"], tmp_path).stdout)
    assert first["checks"]["nonempty"]["cached"] == 0
    assert second["checks"]["nonempty"]["cached"] == 20
    assert bypass["checks"]["nonempty"]["cached"] == 0
    assert (tmp_path / "o1" / "kept.jsonl").read_bytes() == (tmp_path / "o2" / "kept.jsonl").read_bytes()
    # other options are another cache key
    other = json.loads(run_verify(["run", str(data), "-o", "o4", *PLUGIN, "--json", "--set", "nonempty.strip=false"],
                                  tmp_path).stdout or "{}")
    assert other == {}  # nonempty has no such option: a usage error, not a silent default


def test_file_wide_checks_and_config_file(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [chat("same"), chat("same"), chat("other")])
    config = tmp_path / "verify.yaml"
    config.write_text("checks:\n  seen: {}\nworkers: 0\n")
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN, "--config", str(config), "--json"], tmp_path)
    assert result.returncode == 1
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert [(r["line"], r["verdicts"][0]["reason"]) for r in rejected] == [(2, "same response as line 1")]
    bad = tmp_path / "bad.yaml"
    bad.write_text("wrokers: 2\n")
    assert run_verify(["run", str(data), "-o", "o2", "--config", str(bad)], tmp_path).returncode == 2


def test_parquet_and_saved_dataset_inputs(tmp_path: Path) -> None:
    import datasets

    rows = [chat("abc", id="p1", checks={"contains": {"text": "b"}}), chat("x", id="p2", checks={"contains": {"text": "b"}})]
    dataset = datasets.Dataset.from_list(rows)
    dataset.to_parquet(str(tmp_path / "data.parquet"))
    dataset.save_to_disk(str(tmp_path / "saved"))
    for source in ("data.parquet", "saved"):
        result = run_verify(["run", source, "-o", f"out-{source}", *PLUGIN, "--json"], tmp_path)
        summary = json.loads(result.stdout)
        assert summary["counts"]["kept"] == 1 and summary["counts"]["rejected"] == 1, source
        assert json.loads((tmp_path / f"out-{source}" / "kept.jsonl").read_text())["id"] == "p1"


def test_verify_checks_lists_verifiers(tmp_path: Path) -> None:
    result = run_verify(["checks", "--json", ], tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {entry["name"] for entry in json.loads(result.stdout)["checks"]}
    assert {"math", "code", "constraints", "translation", "dedup", "decontam"} <= listed


def test_help_imports_no_optional_command(tmp_path: Path) -> None:
    result = run_verify(["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("run", "checks", "sandbox", "train", "compare-methods", "data"):
        assert command in result.stdout


def test_a_damaged_cache_file_is_set_aside(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "verdicts.sqlite"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"this is not a database" * 100)
    data = write_jsonl(tmp_path / "data.jsonl", [chat("a", checks={"nonempty": {}})])
    result = run_verify(["run", str(data), "-o", "out", *PLUGIN], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / "verdicts.sqlite.damaged").exists()
