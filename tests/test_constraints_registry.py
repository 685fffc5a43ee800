"""The registry holds exactly IFEval's 25 ids (plus Tulu's, listed apart) and describes them."""

from __future__ import annotations

import pytest

import constraints
from constraints.registry import REGISTRY, register_checker

IFEVAL_25 = {
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "startend:quotation",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
}
TULU_FUNCTIONS = {
    "verify_keywords",
    "verify_keyword_frequency",
    "validate_forbidden_words",
    "verify_letter_frequency",
    "validate_response_language",
    "verify_paragraph_count",
    "validate_word_constraint",
    "verify_sentence_constraint",
    "validate_paragraphs",
    "verify_postscript",
    "validate_placeholders",
    "verify_bullet_points",
    "validate_title",
    "validate_choice",
    "validate_highlighted_sections",
    "validate_sections",
    "validate_json_format",
    "validate_repeat_prompt",
    "validate_two_responses",
    "validate_uppercase",
    "validate_lowercase",
    "validate_frequency_capital_words",
    "validate_end",
    "validate_quotation",
    "validate_no_commas",
}


def test_registry_holds_exactly_the_25_ifeval_ids_and_the_tulu_functions() -> None:
    assert set(constraints.IFEVAL_IDS) == IFEVAL_25 and len(constraints.IFEVAL_IDS) == 25
    assert set(constraints.TULU_IDS) == {f"tulu:{name}" for name in TULU_FUNCTIONS}
    assert set(REGISTRY) == IFEVAL_25 | set(constraints.TULU_IDS)


def test_language_independent_ids_are_structural_checks() -> None:
    assert constraints.LANGUAGE_INDEPENDENT == {
        "detectable_format:json_format",
        "detectable_format:number_bullet_lists",
        "detectable_content:number_placeholders",
        "detectable_format:number_highlighted_sections",
        "length_constraints:number_paragraphs",
        "detectable_format:title",
        "combination:two_responses",
        "tulu:validate_json_format",
        "tulu:verify_bullet_points",
        "tulu:validate_placeholders",
        "tulu:validate_highlighted_sections",
        "tulu:verify_paragraph_count",
        "tulu:validate_title",
        "tulu:validate_two_responses",
    }


def test_describe_lists_every_id_with_typed_kwargs() -> None:
    described = {entry["id"]: entry for entry in constraints.describe()}
    assert list(described) == [*constraints.IFEVAL_IDS, *constraints.TULU_IDS]
    assert described["length_constraints:number_words"]["kwargs"] == [
        {"name": "num_words", "type": "int", "required": True, "description": "the threshold"},
        {
            "name": "relation",
            "type": "'less than' | 'at least'",
            "required": True,
            "description": "'less than' or 'at least'",
        },
    ]
    assert described["keywords:existence"]["kwargs"][0]["type"] == "list[str]"
    assert described["punctuation:no_comma"]["kwargs"] == []
    assert described["tulu:validate_no_commas"]["same_as"] == "punctuation:no_comma"
    for entry in described.values():
        assert entry["description"] and "\n" not in entry["description"]
        assert entry["family"] == ("tulu" if entry["id"].startswith("tulu:") else "ifeval")


def test_registration_rejects_taken_and_malformed_ids() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_checker("punctuation:no_comma", "again")(lambda text, params: None)
    with pytest.raises(ValueError, match="must look like 'namespace:name'"):
        register_checker("NoComma", "bad id")(lambda text, params: None)
    assert "NoComma" not in REGISTRY


def test_docs_table_names_every_id_and_kwarg() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "constraints.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in doc.splitlines() if line.startswith("| `")}
    for entry in constraints.describe():
        assert entry["id"] in rows, f"docs/constraints.md has no table row for {entry['id']}"
        for kwarg in entry["kwargs"]:
            assert f"`{kwarg['name']}`" in rows[entry["id"]], f"{entry['id']}: kwarg {kwarg['name']} missing in docs"
