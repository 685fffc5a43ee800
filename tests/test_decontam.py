"""The decontam check and its index command, on the real benchmark texts in ../shared/corpora."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from verify.decontam.cli import index_command
from verify.decontam.verifier import DecontamVerifier
from verify.records import Record
from verify.verifier import VerifierUnavailable

REPO = Path(__file__).resolve().parent.parent
PARAPHRASES = REPO / "tests" / "data" / "dedup" / "paraphrases.jsonl"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, corpora: Path) -> Path:
    out = tmp_path_factory.mktemp("decontam")
    result = CliRunner().invoke(index_command, ["--builtin", "--corpora", str(corpora), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def verifier(index_dir: Path) -> DecontamVerifier:
    return DecontamVerifier({"index_dir": str(index_dir)})


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def conversation(prompt: str, response: str = "Sure.", system: str | None = None) -> Record:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return Record("row", 1, messages, {})


def test_index_command_reports_what_it_built(index_dir: Path) -> None:
    meta = {name: json.loads((index_dir / name / "meta.json").read_text()) for name in
            ("ifeval", "gsm8k", "math", "humaneval", "mbpp")}
    assert {name: m["items"] for name, m in meta.items()} == {
        "ifeval": 541, "gsm8k": 400, "math": 100, "humaneval": 164, "mbpp": 427}
    assert meta["mbpp"]["units"] == 854  # description and tests of each task
    assert meta["math"]["whole_units"] == 5 and meta["gsm8k"]["ngram"] == 13
    listing = CliRunner().invoke(index_command, ["--list", "--out", str(index_dir)])
    assert "gsm8k: GSM8K test problems, 400 items" in listing.output


@pytest.mark.parametrize(("benchmark", "path", "field", "id_field"), [
    ("gsm8k", "math/gsm8k_test_first400.jsonl", "question", "id"),
    ("math", "math/math_test_100_from_qwen_example.jsonl", "question", "id"),
    ("ifeval", "ifeval/input_data.jsonl", "prompt", "key"),
    ("humaneval", "code/HumanEval.jsonl", "prompt", "task_id"),
    ("mbpp", "code/mbpp_sanitized.jsonl", "text", "task_id"),
])
def test_rows_made_from_benchmark_items_fail_naming_the_item(verifier: DecontamVerifier, corpora: Path,
                                                             benchmark: str, path: str, field: str,
                                                             id_field: str) -> None:
    items = read_jsonl(corpora / path)[::9]
    for item in items:
        verdict = verifier.verify(conversation(f"Please solve this.\n\n{item[field]}\n\nThink step by step."), {})
        assert verdict.status == "fail", (item[id_field], verdict.reason)
        assert verdict.code == "decontam.overlap"
        assert verdict.details["benchmark"] == benchmark
        assert verdict.details["item"] == str(item[id_field])
        assert str(item[id_field]) in verdict.reason and "the prompt" in verdict.reason


def test_reason_names_benchmark_item_and_span(verifier: DecontamVerifier, corpora: Path) -> None:
    question = read_jsonl(corpora / "math" / "gsm8k_test_first400.jsonl")[3]["question"]
    verdict = verifier.verify(conversation("Solve: " + question, "He runs 540 meters."), {})
    assert verdict.reason == (
        "the prompt contains GSM8K test problems item gsm8k-test-0003: 100% of its words are in shared "
        "13-grams (limit 50%); shared span of 25 words: \"James decides to run 3 sprints 3 times a week. "
        "He runs 60 meters each sprint. How many total meters does he run a week\""
    )
    start, end = verdict.details["span"]
    assert ("Solve: " + question)[start:end] == question.rstrip("?")


def test_real_sft_rows_from_the_corpora_are_caught(verifier: DecontamVerifier, corpora: Path) -> None:
    """IFEval model responses with their prompts, and the HumanEval/MBPP SFT pairs."""
    responses = read_jsonl(corpora / "ifeval" / "responses.jsonl")[::97]
    for item in responses:
        verdict = verifier.verify(conversation(item["prompt"], item["response"] or ""), {})
        assert verdict.status == "fail" and verdict.details["item"] == str(item["key"])
    for item in read_jsonl(corpora / "code" / "sft_pairs.jsonl")[::23]:
        verdict = verifier.verify(conversation(item["prompt"], item["response"]), {})
        assert verdict.status == "fail" and verdict.details["benchmark"] == item["source"].replace("_sanitized", "")


def test_contamination_in_the_response_or_reformatted_is_caught(verifier: DecontamVerifier, corpora: Path) -> None:
    question = read_jsonl(corpora / "math" / "gsm8k_test_first400.jsonl")[10]["question"]
    in_response = verifier.verify(conversation("Give me a practice problem.", f"Here is one: {question}"), {})
    assert in_response.status == "fail" and in_response.reason.startswith("the response contains GSM8K")
    stripped = re.sub(r"\s+", " ", question.translate(str.maketrans("", "", string.punctuation)).lower())
    assert verifier.verify(conversation(stripped), {}).status == "fail"
    system = verifier.verify(conversation("Answer the last example.", system=f"Example: {question}"), {})
    assert system.status == "fail" and system.reason.startswith("message 1 (system) contains")


def test_paraphrased_new_rows_pass(verifier: DecontamVerifier) -> None:
    """Hand-written rows: benchmark items reworded with new numbers and names, or new tasks that
    reuse IFEval's shared instruction templates."""
    rows = read_jsonl(PARAPHRASES)
    assert len(rows) == 35
    for row in rows:
        verdict = verifier.verify(Record.from_dict(row, 1), {})
        assert verdict.status == "pass", (row["id"], verdict.reason)


def test_coverage_limit_decides_partial_copies(index_dir: Path, corpora: Path) -> None:
    question = read_jsonl(corpora / "math" / "gsm8k_test_first400.jsonl")[0]["question"]
    half = " ".join(question.split()[: len(question.split()) // 2])
    strict = DecontamVerifier({"index_dir": str(index_dir), "min_coverage": 0.25})
    lenient = DecontamVerifier({"index_dir": str(index_dir), "min_coverage": 0.9})
    assert strict.verify(conversation(half), {}).status == "fail"
    partial = lenient.verify(conversation(half), {})
    assert partial.status == "pass" and partial.code == "decontam.partial"
    assert partial.reason.startswith("largest overlap is 5") and partial.reason.endswith("below the 90% limit")


def test_template_ngrams_are_not_evidence(index_dir: Path) -> None:
    """IFEval's repeat-the-request instruction appears in 10 prompts: reusing it is not a copy."""
    template = ("First repeat the request word for word without change, then give your answer (1. do not say any "
                "words or characters before repeating the request; 2. the request you need to repeat does not "
                "include this sentence)")
    row = conversation(f"Write a haiku about lighthouses. {template}")
    default = DecontamVerifier({"index_dir": str(index_dir)})
    assert default.verify(row, {}).status == "pass"
    no_templates = DecontamVerifier({"index_dir": str(index_dir), "template_items": 1000})
    assert no_templates.verify(row, {}).status == "fail"


def test_short_items_match_whole_or_by_min_words_grams(verifier: DecontamVerifier) -> None:
    whole = verifier.verify(conversation("Simplify $\\frac{8}{22}$."), {})
    assert whole.status == "fail" and whole.details["item"] == "math-qwen-046"
    assert whole.reason == ("the prompt is MATH test problems item math-qwen-046, word for word: "
                            "\"Simplify $\\frac{8}{22}$.\"")
    assert verifier.verify(conversation("Simplify $\\frac{8}{22}$ and then add one."), {}).status == "pass"
    short = verifier.verify(conversation("Write a python function to identify non-prime numbers quickly."), {})
    assert short.status == "fail" and short.details["item"] == "3" and short.details["gram_words"] == 8
    assert "MBPP prompts and tests item 3 (text)" in short.reason


def test_roles_and_ngram_options(index_dir: Path, corpora: Path) -> None:
    question = read_jsonl(corpora / "math" / "gsm8k_test_first400.jsonl")[5]["question"]
    only_responses = DecontamVerifier({"index_dir": str(index_dir), "roles": ["assistant"]})
    assert only_responses.verify(conversation(question), {}).status == "pass"
    eight = DecontamVerifier({"index_dir": str(index_dir), "ngram": 8})
    verdict = eight.verify(conversation(question), {})
    assert verdict.status == "fail" and "shared 8-grams" in verdict.reason


def test_missing_index_makes_the_check_unavailable_naming_the_command(tmp_path: Path) -> None:
    with pytest.raises(VerifierUnavailable) as missing:
        DecontamVerifier({"index_dir": str(tmp_path)})
    assert str(missing.value) == (
        f"no decontam index in {tmp_path / 'ifeval'}; build it with: verify data decontam-index --builtin "
        f"--out {tmp_path}"
    )
    with pytest.raises(VerifierUnavailable) as custom:
        DecontamVerifier({"benchmarks": [str(tmp_path / "mine")]})
    assert str(custom.value).endswith(
        f"verify data decontam-index --file <benchmark file> --field <text field> --name mine --out {tmp_path}")


def test_damaged_index_is_an_error(tmp_path: Path, index_dir: Path) -> None:
    import shutil

    shutil.copytree(index_dir / "gsm8k", tmp_path / "gsm8k")
    (tmp_path / "gsm8k" / "grams-13.npy").write_bytes(b"not numpy")
    with pytest.raises(VerifierUnavailable) as damaged:
        DecontamVerifier({"index_dir": str(tmp_path), "benchmarks": ["gsm8k"]})
    assert "is unreadable" in str(damaged.value)
    assert str(damaged.value).endswith(f"verify data decontam-index --builtin --out {tmp_path}")


def test_bad_spec_is_an_error(verifier: DecontamVerifier) -> None:
    verdict = verifier.verify(conversation("hello"), {"benchmarks": ["gsm8k"]})
    assert verdict.status == "error" and verdict.code == "decontam.bad_spec"
    assert "benchmarks" in verdict.reason


def test_user_benchmark_files_jsonl_parquet_and_text(tmp_path: Path) -> None:
    questions = [
        {"qid": "q1", "question": "A train leaves the station at noon travelling at sixty miles per hour toward the coast."},
        {"qid": "q2", "question": ["Which planet in our solar system has the largest number of known moons today?"]},
    ]
    jsonl = tmp_path / "bench.jsonl"
    jsonl.write_text("".join(json.dumps(q) + "\n" for q in questions))
    runner = CliRunner()
    out = tmp_path / "idx"
    built = runner.invoke(index_command, ["--file", str(jsonl), "--name", "mine", "--field", "question",
                                          "--id-field", "qid", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert built.output.startswith("mine: 2 items, 2 texts")

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [q["question"] if isinstance(q["question"], str) else q["question"][0]
                                      for q in questions]}), tmp_path / "bench.parquet")
    assert runner.invoke(index_command, ["--file", str(tmp_path / "bench.parquet"), "--name", "pq", "--field", "text",
                                         "--out", str(out)]).exit_code == 0
    (tmp_path / "bench.txt").write_text("\n".join(
        q["question"] if isinstance(q["question"], str) else q["question"][0] for q in questions) + "\n")
    assert runner.invoke(index_command, ["--file", str(tmp_path / "bench.txt"), "--name", "txt",
                                         "--out", str(out)]).exit_code == 0

    for name, item in (("mine", "q2"), ("pq", "2"), ("txt", "2")):
        check = DecontamVerifier({"index_dir": str(out), "benchmarks": [name]})
        verdict = check.verify(conversation("Quiz: which planet in our solar system has the largest number of "
                                            "known moons today?"), {})
        assert verdict.status == "fail" and verdict.details["item"] == item, (name, verdict.reason)
    by_path = DecontamVerifier({"benchmarks": [str(out / "mine")]})
    assert by_path.verify(conversation(questions[0]["question"]), {}).details["item"] == "q1"


def test_index_command_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(index_command, ["--out", str(tmp_path)])
    assert neither.exit_code == 2 and "give either --builtin or --file" in neither.output
    (tmp_path / "b.jsonl").write_text(json.dumps({"prompt": "x"}) + "\n")
    wrong_field = runner.invoke(index_command, ["--file", str(tmp_path / "b.jsonl"), "--name", "b", "--field", "text",
                                                "--out", str(tmp_path)])
    assert wrong_field.exit_code == 2 and "fields seen: prompt" in wrong_field.output
    no_name = runner.invoke(index_command, ["--file", str(tmp_path / "b.jsonl"), "--field", "prompt"])
    assert no_name.exit_code == 2 and "--name is required" in no_name.output


def test_verdict_cache_key_follows_the_index_contents(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps({"text": "one two three four five six seven eight nine ten eleven twelve"}) + "\n")
    args = ["--file", str(path), "--name", "b", "--field", "text", "--out", str(tmp_path / "idx")]
    CliRunner().invoke(index_command, args)
    row = conversation("hello")
    before = DecontamVerifier({"index_dir": str(tmp_path / "idx"), "benchmarks": ["b"]}).cache_material(row, {})
    path.write_text(json.dumps({"text": "a different benchmark text with more than thirteen words in it, surely"}) + "\n")
    CliRunner().invoke(index_command, args)
    after = DecontamVerifier({"index_dir": str(tmp_path / "idx"), "benchmarks": ["b"]}).cache_material(row, {})
    assert before["indexes"] != after["indexes"]
