"""The dedup check on its own: exact and near duplicates, options, state, resume, real text."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from verify.dedup.fingerprint import band_layout
from verify.dedup.index import StateMismatch
from verify.dedup.verifier import DedupVerifier
from verify.records import Record

REPO = Path(__file__).resolve().parent.parent


def record(line: int, prompt: str, response: str, record_id: str | None = None, system: str | None = None) -> Record:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return Record(record_id or f"r{line}", line, messages, {})


def run(verifier: DedupVerifier, records: list[Record]) -> list:
    return verifier.verify_batch([(r, {}) for r in records])


@pytest.fixture(scope="module")
def passages(corpora: Path) -> list[tuple[str, str]]:
    """Real (prompt, response) pairs: IFEval prompts with GPT-4's answers, long enough to edit."""
    rows = []
    with open(corpora / "ifeval" / "responses.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item["model"].startswith("gpt-4 (google") and len((item["response"] or "").split()) >= 80:
                rows.append((item["prompt"], item["response"]))
    return rows


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Replace about `rate` of the words with other words (at least one)."""
    tokens = text.split()
    positions = [i for i in range(len(tokens)) if rng.random() < rate] or [rng.randrange(len(tokens))]
    for i in positions:
        tokens[i] = rng.choice(["alpha", "window", "river", "seven", "quietly", "blue"])
    return " ".join(tokens)


def test_exact_duplicate_after_normalisation_names_the_first_row() -> None:
    verifier = DedupVerifier()
    verdicts = run(verifier, [
        record(1, "What is the capital of France?", "Paris is the capital of France.", "first"),
        record(2, "What is the capital of Germany?", "Berlin is the capital of Germany."),
        record(3, "  WHAT is the capital   of ＦＲＡＮＣＥ? ", "Paris is the capital of France.", "copy"),
    ])
    assert [v.status for v in verdicts] == ["pass", "pass", "fail"]
    assert verdicts[2].code == "dedup.exact"
    assert verdicts[2].reason == (
        "exact duplicate of line 1 (id 'first') once case, spacing and Unicode forms are normalised; "
        "the first occurrence is kept"
    )
    assert verdicts[2].details["duplicate_of"] == {"line": 1, "id": "first"}
    assert verdicts[0].code == "dedup.unique"
    verifier.close()


def test_near_duplicate_reports_line_id_and_similarity(passages: list[tuple[str, str]]) -> None:
    rng = random.Random(1)
    prompt, response = passages[0]
    verifier = DedupVerifier()
    verdicts = run(verifier, [
        record(1, prompt, response, "orig"),
        record(2, *passages[1]),
        record(3, prompt, edit(response, 0.02, rng), "edited"),
    ])
    assert [v.status for v in verdicts] == ["pass", "pass", "fail"]
    near = verdicts[2]
    assert near.code == "dedup.near"
    assert near.details["duplicate_of"] == {"line": 1, "id": "orig"}
    similarity = near.details["similarity"]
    assert 0.55 <= similarity < 1.0
    assert near.reason == (
        f"near-duplicate of line 1 (id 'orig'): estimated similarity {similarity:.2f} >= 0.55; "
        "the first occurrence is kept"
    )
    verifier.close()


def test_punctuation_only_changes_are_near_duplicates_at_similarity_one() -> None:
    verifier = DedupVerifier()
    verdicts = run(verifier, [
        record(1, "Name three primary colours", "Red, yellow and blue."),
        record(2, "Name three primary colours!", "Red yellow and blue"),
    ])
    assert verdicts[1].code == "dedup.near"
    assert verdicts[1].details["similarity"] == 1.0
    verifier.close()


def test_rows_are_compared_with_first_occurrences_only(passages: list[tuple[str, str]]) -> None:
    """A copy of a rejected near-duplicate is reported against the first occurrence it resembles."""
    rng = random.Random(2)
    prompt, response = passages[2]
    edited = edit(response, 0.02, rng)
    verifier = DedupVerifier()
    verdicts = run(verifier, [
        record(1, prompt, response, "first"),
        record(2, prompt, edited, "near"),
        record(3, prompt, edited, "copy-of-near"),
    ])
    assert [v.code for v in verdicts] == ["dedup.unique", "dedup.near", "dedup.near"]
    assert verdicts[2].details["duplicate_of"]["id"] == "first"
    verifier.close()


def test_turns_option_selects_what_defines_a_row() -> None:
    rows = [record(1, "Tell me a joke about cats.", "Why did the cat sit on the computer?"),
            record(2, "Tell me a joke about cats.", "A completely different answer about dogs and parks.")]
    by_all = run(DedupVerifier(), rows)
    by_prompt = run(DedupVerifier({"turns": "prompt"}), rows)
    by_response = run(DedupVerifier({"turns": "response"}), rows)
    assert by_all[1].status == "pass"
    assert by_prompt[1].code == "dedup.exact"
    assert by_response[1].status == "pass"


def test_system_prompt_is_left_out_unless_asked() -> None:
    system = " ".join(f"rule number {i} says be kind and precise" for i in range(40))
    rows = [record(1, "Hi", "Hello!", system=system), record(2, "Bye", "Goodbye!", system=system)]
    assert run(DedupVerifier(), rows)[1].status == "pass"
    assert run(DedupVerifier({"include_system": True}), rows)[1].code == "dedup.near"


def test_near_off_keeps_only_exact_matching(passages: list[tuple[str, str]]) -> None:
    prompt, response = passages[3]
    rows = [record(1, prompt, response), record(2, prompt, edit(response, 0.02, random.Random(3))),
            record(3, prompt, response)]
    verdicts = run(DedupVerifier({"near": False}), rows)
    assert [v.code for v in verdicts] == ["dedup.unique", "dedup.unique", "dedup.exact"]


def test_empty_selection_is_skipped_and_bad_spec_is_an_error() -> None:
    verifier = DedupVerifier({"turns": "prompt"})
    no_prompt = Record("a", 1, [{"role": "assistant", "content": "Hello"}], {})
    verdicts = verifier.verify_batch([(no_prompt, {}), (record(2, "Hi", "Hello"), {"threshold": 0.9})])
    assert verdicts[0].status == "skip" and verdicts[0].code == "dedup.empty"
    assert verdicts[0].reason == "no text in the selected turns (turns=prompt); nothing to compare"
    assert verdicts[1].status == "error" and verdicts[1].code == "dedup.bad_spec"
    assert "threshold" in verdicts[1].reason and "--set dedup.<option>" in verdicts[1].reason


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid options for verifier 'dedup'"):
        DedupVerifier({"treshold": 0.9})


def test_band_layout_reaches_the_recall_target() -> None:
    for threshold in (0.5, 0.55, 0.7, 0.8, 0.9):
        bands, rows = band_layout(threshold, 128)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands >= 0.95
        assert 1 - (1 - threshold ** (rows + 1)) ** (128 // (rows + 1)) < 0.95  # the fewest bands that do


def test_planted_near_duplicates_in_real_text_are_found(passages: list[tuple[str, str]]) -> None:
    """300 real rows with 30 planted copies (2% of words edited, or case and spacing changed)."""
    rng = random.Random(4)
    base = passages[:300]
    rows: list[tuple[str, str, str | None]] = [(p, r, None) for p, r in base]
    for number in range(30):
        source = rng.randrange(150)
        prompt, response = base[source]
        if number % 2:
            copy = (prompt, edit(response, 0.02, rng))
        else:
            copy = (prompt.upper(), "  ".join(response.split()))
        position = rows.index((prompt, response, None))
        rows.insert(rng.randrange(position + 1, len(rows) + 1), (*copy, f"b{source}"))
    records = []
    for line, (prompt, response, source) in enumerate(rows, start=1):
        records.append(record(line, prompt, response, f"p{line}-of-{source}" if source else f"b{base.index((prompt, response))}"))
    verdicts = run(DedupVerifier(), records)
    flagged = {r.id for r, v in zip(records, verdicts, strict=True) if v.status == "fail"}
    planted = {r.id for r in records if "-of-" in r.id}
    assert flagged == planted
    for r, v in zip(records, verdicts, strict=True):
        if v.status == "fail":
            assert v.details["duplicate_of"]["id"] == r.id.split("-of-")[1]


# ---- state: checkpoint, resume, replays -----------------------------------------------------------
def batch(start: int, count: int) -> list[Record]:
    """Rows where every 4th repeats an earlier one exactly and every 7th nearly."""
    rows = []
    for line in range(start, start + count):
        if line % 4 == 0:
            rows.append(record(line, f"question {line // 2} about topic {line // 2}", f"answer {line // 2} " * 5))
        elif line % 7 == 0:
            base = line - 3
            rows.append(record(line, f"question {base} about topic {base}",
                               f"answer {base} " * 5 + "with one extra clause at the end"))
        else:
            rows.append(record(line, f"question {line} about topic {line}", f"answer {line} " * 5))
    return rows


def outcome(verdicts: list) -> list[tuple[str, dict]]:
    return [(v.code, v.details.get("duplicate_of", {})) for v in verdicts]


def test_resume_restores_the_state_of_the_last_checkpoint(tmp_path: Path) -> None:
    reference = DedupVerifier()
    expected = outcome(run(reference, batch(1, 60)) + run(reference, batch(61, 60)))
    reference.close()

    first = DedupVerifier()
    first.open_state(tmp_path, resume=False)
    got = outcome(run(first, batch(1, 60)))
    first.checkpoint()
    run(first, batch(61, 60))  # decided but never committed: a kill happens here
    first.index.db.close()  # no rollback, no commit: what SIGKILL leaves behind

    second = DedupVerifier()
    second.open_state(tmp_path, resume=True)
    got += outcome(run(second, batch(61, 60)))
    second.close()
    assert got == expected


def committed(state: Path, rows: list[Record]) -> list:
    """Verdicts of a run over `rows` whose state was committed in `state`, then closed."""
    verifier = DedupVerifier()
    verifier.open_state(state, resume=False)
    verdicts = run(verifier, rows)
    verifier.checkpoint()
    verifier.close()
    return verdicts


def test_rows_sent_again_after_a_commit_get_the_same_verdicts(tmp_path: Path) -> None:
    """The pipeline may die after dedup committed but before its own commit: replays must agree."""
    first = outcome(committed(tmp_path, batch(1, 80)))
    again = DedupVerifier()
    again.open_state(tmp_path, resume=True)
    assert outcome(run(again, batch(41, 40))) == first[40:]
    again.close()


def test_resume_with_other_options_is_refused(tmp_path: Path) -> None:
    committed(tmp_path, batch(1, 5))
    with pytest.raises(StateMismatch, match=r"other settings \(bands, rows, threshold\); run again without --resume"):
        DedupVerifier({"threshold": 0.9}).open_state(tmp_path, resume=True)


def test_a_fresh_run_starts_from_an_empty_index(tmp_path: Path) -> None:
    committed(tmp_path, batch(1, 10))
    fresh = DedupVerifier()
    fresh.open_state(tmp_path, resume=False)
    assert all(v.status == "pass" for v in run(fresh, batch(1, 3)))
    fresh.close()


KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_dedup import batch, run
from verify.dedup.verifier import DedupVerifier
verifier = DedupVerifier()
verifier.open_state(Path({state!r}), resume=False)
run(verifier, batch(1, 60))
verifier.checkpoint()
run(verifier, batch(61, 60))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkill_between_checkpoints_loses_only_uncommitted_rows(tmp_path: Path) -> None:
    code = KILLED_RUN.format(tests=str(REPO / "tests"), state=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ}, capture_output=True)
    assert result.returncode == -9, result.stderr.decode()
    resumed = DedupVerifier()
    resumed.open_state(tmp_path, resume=True)
    assert resumed.index.counts()["kept"] == sum(1 for v in run(DedupVerifier(), batch(1, 60)) if v.status == "pass")
    got = outcome(run(resumed, batch(61, 60)))
    resumed.close()
    reference = DedupVerifier()
    expected = outcome(run(reference, batch(1, 60)) + run(reference, batch(61, 60)))[60:]
    assert got == expected
