"""The `constraints` verifier: one verdict per record from the spec, through the registry."""

from __future__ import annotations

import pytest

from verify.formats import ADAPTERS, to_record
from verify.records import Record
from verify.verifier import build


def record(response: str, prompt: str = "Write something.") -> Record:
    return Record.from_dict(
        {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]}, 1
    )


@pytest.fixture(scope="module")
def verifier():
    return build("constraints")


def test_pass_when_every_instruction_is_followed(verifier) -> None:
    spec = {
        "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
        "kwargs": [{}, {"num_words": 3, "relation": "at least"}],
    }
    verdict = verifier.verify(record("three words here"), spec)
    assert (verdict.status, verdict.code, verdict.reason) == (
        "pass",
        "constraints.followed",
        "all 2 instructions followed (strict)",
    )
    assert verdict.details["followed"] == 2 and verdict.details["mode"] == "strict"


def test_fail_names_the_first_failures(verifier) -> None:
    spec = {
        "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words", "detectable_format:title"],
        "kwargs": [{}, {"num_words": 300, "relation": "at least"}, None],
    }
    verdict = verifier.verify(record("Hello, world. This is a test"), spec)
    assert verdict.status == "fail" and verdict.code == "constraints.punctuation:no_comma"
    assert verdict.reason == (
        "punctuation:no_comma: 1 comma, first at character 6; length_constraints:number_words: 6 words; "
        "at least 300 required; detectable_format:title: no <<title>> on one line"
    )
    assert [item["status"] for item in verdict.details["instructions"]] == ["fail", "fail", "fail"]


def test_spec_errors_make_the_verdict_an_error_even_when_something_fails(verifier) -> None:
    spec = {"instruction_id_list": ["punctuation:no_comma", "keywords:frequency"], "kwargs": [{}, {"keyword": "x"}]}
    verdict = verifier.verify(record("a, b"), spec)
    assert verdict.status == "error" and verdict.code == "constraints.bad_kwargs"
    assert verdict.reason == "keywords:frequency: kwarg 'frequency' is required; kwarg 'relation' is required"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"kwargs": []}, "constraints spec: missing 'instruction_id_list'"),
        (
            {"instruction_id_list": "punctuation:no_comma"},
            "constraints spec: 'instruction_id_list' must be a list of strings",
        ),
        (
            {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]},
            "constraints spec: 'kwargs' has 2 entries for 1 instruction ids",
        ),
        (
            {"instruction_id_list": ["punctuation:no_comma"], "mode": "lenient"},
            "constraints spec: 'mode' must be 'strict' or 'loose', got 'lenient'",
        ),
        (
            {"instruction_id_list": ["punctuation:no_comma"], "kwarg": []},
            "constraints spec: unknown key(s) 'kwarg'; allowed: instruction_id_list, kwargs, mode",
        ),
        (["punctuation:no_comma"], "constraints spec: must be an object, got list"),
    ],
)
def test_malformed_spec_is_an_error_naming_the_field(verifier, spec, reason) -> None:
    verdict = verifier.verify(record("text"), spec)
    assert (verdict.status, verdict.code, verdict.reason) == ("error", "constraints.bad_spec", reason)


def test_empty_instruction_list_is_skipped(verifier) -> None:
    verdict = verifier.verify(record("text"), {"instruction_id_list": []})
    assert (verdict.status, verdict.code) == ("skip", "constraints.no_instructions")


def test_mode_from_spec_then_from_options() -> None:
    response = 'Sure:\n"Roses are red"'
    strict = build("constraints")
    assert strict.verify(record(response), {"instruction_id_list": ["startend:quotation"]}).status == "fail"
    assert (
        strict.verify(record(response), {"instruction_id_list": ["startend:quotation"], "mode": "loose"}).status
        == "pass"
    )
    loose = build("constraints", {"default_mode": "loose"})
    assert loose.verify(record(response), {"instruction_id_list": ["startend:quotation"]}).status == "pass"
    with pytest.raises(ValueError, match="invalid options"):
        build("constraints", {"mode": "loose"})


def test_blank_response_code(verifier) -> None:
    verdict = verifier.verify(record(" "), {"instruction_id_list": ["punctuation:no_comma"]})
    assert (verdict.status, verdict.code) == ("fail", "constraints.blank_response")


def test_tulu_rlvr_rows_reach_tulus_own_checkers(verifier) -> None:
    row = {
        "messages": [{"role": "user", "content": "List 2 things."}, {"role": "assistant", "content": "* a\n* b"}],
        "ground_truth": '{"func_name": "verify_bullet_points", "N": 2, "quantifier": null, "word": null}',
        "dataset": "ifeval",
    }
    rec = to_record(row, 1, ADAPTERS["tulu"])
    verdict = verifier.verify(rec, rec.checks["constraints"])
    assert verdict.status == "pass" and verdict.details["instructions"][0]["id"] == "tulu:verify_bullet_points"


def test_hf_ifeval_rows_with_null_padded_kwargs(verifier) -> None:
    row = {
        "key": 1,
        "prompt": "Answer without commas.",
        "response": "No commas here",
        "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
        "kwargs": [{"num_words": None, "relation": None}, {"num_words": 2, "relation": "at least"}],
    }
    rec = to_record(row, 1, ADAPTERS["ifeval"])
    assert verifier.verify(rec, rec.checks["constraints"]).status == "pass"
