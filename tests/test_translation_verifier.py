"""The translation verifier: spec handling, verdict outcomes, the labelled set, constraints re-run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from verify import verifier as registry
from verify.records import Record
from verify.translation import labelled
from verify.translation.verifier import TranslationVerifier

DATA = Path(__file__).parent / "data" / "translation"
# The combined verdict's known mistakes on the labelled set (see docs/translation.md).
KNOWN_MISTAKES = {"f09", "p09", "p22"}


def record(translation: str, checks: dict) -> Record:
    return Record(
        id="r1", line=1, messages=[{"role": "user", "content": "translate"}, {"role": "assistant", "content": translation}],
        checks=checks,
    )  # fmt: skip


@pytest.fixture(scope="module")
def verifier() -> TranslationVerifier:
    return TranslationVerifier({})


SPEC = {"source": "Do not delete the file before 5 pm.", "source_lang": "en", "target_lang": "de"}
GOOD = "Löschen Sie die Datei nicht vor 17 Uhr."


def test_registry_points_at_this_class_and_the_module_imports_cheaply():
    assert registry.get("translation") is TranslationVerifier
    assert TranslationVerifier.runs_in == "main"
    probe = "import sys, verify.translation.verifier; print(sorted({'torch', 'transformers', 'sacrebleu', 'lingua'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("oops", "checks.translation must be an object, got str"),
        ({"source_lang": "en", "target_lang": "de"}, "checks.translation.source is missing or not a non-empty string"),
        ({"source": "x", "target_lang": "de"}, "checks.translation.source_lang is missing or not a string"),
        ({"source": "x", "source_lang": "en", "target_lang": "klingon"},
         "checks.translation.target_lang 'klingon' is not a language code this check knows (ISO 639-1)"),
        ({"source": "x", "source_lang": "en", "target_lang": "de", "back_translation": 3},
         "checks.translation.back_translation must be a string when present"),
        ({"source": "x", "source_lang": "en", "target_lang": "de", "target_language": "de"},
         "checks.translation has unknown field(s) ['target_language']; "
         "known: ['back_translation', 'source', 'source_lang', 'target_lang']"),
    ],
)  # fmt: skip
def test_malformed_spec_is_an_error_naming_the_field(verifier, spec, reason):
    verdict = verifier.verify(record(GOOD, {"translation": spec}), spec)
    assert (verdict.status, verdict.code, verdict.reason) == ("error", "translation.bad_spec", reason)


def test_empty_translation_fails(verifier):
    verdict = verifier.verify(record("  ", {"translation": SPEC}), SPEC)
    assert (verdict.status, verdict.code, verdict.reason) == ("fail", "translation.empty", "the translation is empty")


def test_without_back_translation_structure_only_pass_or_error_when_required(verifier):
    verdict = verifier.verify(record(GOOD, {"translation": SPEC}), SPEC)
    assert (verdict.status, verdict.code) == ("pass", "translation.pass_structure_only")
    assert verdict.reason == (
        "German translation keeps language and invariants; meaning not checked "
        "(no back_translation in the record and backend 'none')"
    )
    assert verdict.details["back_translation"] == {"skipped": "no back_translation in the record and backend 'none'"}
    strict = TranslationVerifier({"require_back_translation": True}).verify(record(GOOD, {"translation": SPEC}), SPEC)
    assert (strict.status, strict.code) == ("error", "translation.no_back_translation")


def test_back_translation_from_the_record_decides_meaning(verifier):
    spec = {**SPEC, "back_translation": "Do not delete the file before 5 pm."}
    verdict = verifier.verify(record(GOOD, {"translation": spec}), spec)
    assert (verdict.status, verdict.code) == ("pass", "translation.pass")
    assert verdict.reason == "German translation keeps language, invariants and meaning (back-translation chrF 100.0)"
    assert verdict.details["back_translation"]["from"] == "record"
    flipped = {**SPEC, "back_translation": "Delete the file before 5 pm."}
    verdict = verifier.verify(record("Löschen Sie die Datei vor 17 Uhr.", {"translation": flipped}), flipped)
    assert (verdict.status, verdict.code) == ("fail", "translation.negation")
    assert verdict.reason == "negation changed: the source has 1 negation(s), the back-translation 0"


def test_every_finding_is_listed_and_the_first_decides_the_code(verifier):
    verdict = verifier.verify(record("Veuillez supprimer le fichier avant 18 heures", {"translation": SPEC}), SPEC)
    assert verdict.status == "fail"
    assert verdict.code == "translation.wrong_language"
    assert verdict.reason.startswith("the translation is in French (")
    assert [finding["code"] for finding in verdict.details["findings"]] == [
        "translation.wrong_language", "translation.numbers", "translation.ending",
    ]  # fmt: skip
    assert verdict.reason.endswith("(and 2 more: translation.numbers, translation.ending)")


def test_translation_in_the_source_language_is_untranslated(verifier):
    verdict = verifier.verify(record(SPEC["source"], {"translation": SPEC}), SPEC)
    assert verdict.code == "translation.untranslated"
    assert verdict.reason.startswith("the translation is in English, the source language, not German")


def test_options_reject_typos_and_incomplete_backends():
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        TranslationVerifier({"chrf_minimum": 3})
    with pytest.raises(ValueError, match="backend 'causal' needs `model`"):
        TranslationVerifier({"backend": "causal"})
    with pytest.raises(ValueError, match="backend 'http' needs `endpoint`"):
        TranslationVerifier({"backend": "http", "model": "m"})
    with pytest.raises(ValueError, match="unknown invariant"):
        TranslationVerifier({"invariants": ["numbers", "spelling"]})


def test_invariants_option_selects_checks():
    only_numbers = TranslationVerifier({"invariants": ["numbers"]})
    verdict = only_numbers.verify(record("Löschen Sie die Datei nicht vor 17", {"translation": SPEC}), SPEC)
    assert verdict.status == "pass"
    assert verdict.details["invariants"] == ["numbers"]


def test_labelled_set_combined_verdict_makes_only_the_known_mistakes(verifier):
    pairs = labelled.load(DATA)
    assert len(pairs) >= 100
    assert {pair.category for pair in pairs} == set(labelled.CATEGORIES)
    assert len({pair.target_lang for pair in pairs}) >= 4 and any(pair.target_lang == "zh" for pair in pairs)
    records = [Record.from_dict(pair.record(), line) for line, pair in enumerate(pairs, 1)]
    verdicts = verifier.verify_batch([(item, item.checks["translation"]) for item in records])
    assert all(verdict.status in ("pass", "fail") for verdict in verdicts)
    mistakes = {
        pair.id for pair, verdict in zip(pairs, verdicts, strict=True) if (verdict.status == "fail") == pair.keep
    }
    assert mistakes == KNOWN_MISTAKES


def test_embeddings_from_the_bundled_minilm_model():
    # The `translation-embeddings` extra is part of the test set-up (scripts/setup.sh): no skip.
    checker = TranslationVerifier({"embedding_model": "all-MiniLM-L6-v2", "device": "cpu", "embedding_min": 0.6})
    same = {**SPEC, "back_translation": "Don't delete the file before 5 pm."}
    other = {**SPEC, "back_translation": "The weather in Paris is lovely in spring."}
    verdicts = checker.verify_batch(
        [(record(GOOD, {"translation": same}), same), (record(GOOD, {"translation": other}), other)]
    )
    assert verdicts[0].status == "pass" and verdicts[0].details["back_translation"]["embedding"] > 0.9
    assert verdicts[1].status == "fail"
    codes = [finding["code"] for finding in verdicts[1].details["findings"]]
    assert "translation.back_translation_embedding" in codes


def test_bad_embedding_folder_is_an_error_not_a_verdict(tmp_path):
    checker = TranslationVerifier({"embedding_model": str(tmp_path)})
    spec = {**SPEC, "back_translation": SPEC["source"]}
    verdict = checker.verify(record(GOOD, {"translation": spec}), spec)
    assert (verdict.status, verdict.code) == ("error", "translation.embedding_error")


CONSTRAINTS = {
    "instruction_id_list": ["detectable_format:number_bullet_lists", "language:response_language"],
    "kwargs": [{"num_bullets": 3}, {"language": "en"}],
}


def test_language_independent_constraints_are_rerun_on_the_translation(verifier):
    spec = {"source": "Tips:\n* Sleep.\n* Eat.\n* Walk.", "source_lang": "en", "target_lang": "de"}
    keeps = record("Tipps:\n* Schlafen.\n* Essen.\n* Gehen.", {"translation": spec, "constraints": CONSTRAINTS})
    verdict = verifier.verify(keeps, spec)
    assert verdict.status == "pass"
    assert verdict.details["constraints"]["rerun"] == ["detectable_format:number_bullet_lists"]
    assert verdict.details["constraints"]["language_dependent"] == ["language:response_language"]
    merged = record("Tipps:\n* Schlafen und Essen.\n* Gehen.\n", {"translation": spec, "constraints": CONSTRAINTS})
    verdict = TranslationVerifier({"invariants": []}).verify(merged, spec)
    assert (verdict.status, verdict.code) == ("fail", "translation.constraint_failed")
    assert verdict.reason.startswith("the translation breaks constraint detectable_format:number_bullet_lists: ")


def test_cache_material_includes_the_constraints_it_reruns(verifier):
    spec = {"source": "a", "source_lang": "en", "target_lang": "de"}
    with_constraints = record("b", {"translation": spec, "constraints": CONSTRAINTS})
    assert verifier.cache_material(with_constraints, spec)["constraints"] == CONSTRAINTS
    assert "constraints" not in verifier.cache_material(record("b", {"translation": spec}), spec)


def test_missing_optional_module_is_reported_at_build_time(monkeypatch):
    import importlib.util

    from verify.verifier import VerifierUnavailable

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lingua" else real(name, *a))
    with pytest.raises(VerifierUnavailable, match="lingua-language-detector"):
        TranslationVerifier({})
    assert TranslationVerifier({"lingua": False}).options.lingua is False


def test_docs_list_every_option_and_invariant():
    from verify.translation.invariants import INVARIANTS

    docs = (Path(__file__).parent.parent / "docs" / "translation.md").read_text(encoding="utf-8")
    missing = [name for name in [*TranslationVerifier.Options.model_fields, *INVARIANTS] if f"`{name}`" not in docs]
    assert missing == []
