"""Accuracy of each translation-checking method on the labelled set, against the anchors.

    python bench/translation_accuracy.py [--limit N] [--data DIR] [--no-embeddings]

Anchors: a chrF back-translation filter (sacrebleu, the usual surface metric) and plain
langdetect (seeded). Ours: language ID with script rules + lingua for short texts, the
invariants, the negation count, embedding similarity, and the combined verdict of
TranslationVerifier. For each method: accuracy, false keeps (a bad translation kept), false
rejects (a good one rejected). Thresholds are printed both at the verifier's defaults and at
the best in-sample value, with a leave-sources-out cross-validated accuracy for the latter.
Everything runs in this one process on the same pairs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verify.records import Record  # noqa: E402
from verify.translation import invariants, labelled, languages, negation, textparts  # noqa: E402
from verify.translation.labelled import LabelledPair  # noqa: E402
from verify.translation.langid import LanguageIdentifier  # noqa: E402
from verify.translation.similarity import chrf  # noqa: E402
from verify.translation.verifier import DEFAULT_LID_CANDIDATES, TranslationVerifier  # noqa: E402

DEFAULT_DATA = REPO / "tests" / "data" / "translation"


def score(pairs: Sequence[LabelledPair], rejected: Sequence[bool]) -> tuple[float, int, int]:
    """(accuracy, false keeps, false rejects)."""
    false_keeps = sum(1 for pair, reject in zip(pairs, rejected, strict=True) if not pair.keep and not reject)
    false_rejects = sum(1 for pair, reject in zip(pairs, rejected, strict=True) if pair.keep and reject)
    return 1 - (false_keeps + false_rejects) / len(pairs), false_keeps, false_rejects


def best_threshold(pairs: Sequence[LabelledPair], values: Sequence[float], grid: Sequence[float]) -> float:
    """The threshold (reject below it) with the best accuracy; ties go to the lowest."""
    return max(grid, key=lambda t: (score(pairs, [v < t for v in values])[0], -t))


def cross_validated(pairs: Sequence[LabelledPair], values: Sequence[float], grid: Sequence[float]) -> float:
    """Accuracy when each source's pairs are judged with a threshold chosen on the others."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, pair in enumerate(pairs):
        by_source[pair.source].append(index)
    correct = 0
    for held_out in by_source.values():
        train = [index for index in range(len(pairs)) if index not in held_out]
        threshold = best_threshold([pairs[i] for i in train], [values[i] for i in train], grid)
        correct += sum(1 for i in held_out if (values[i] < threshold) != pairs[i].keep)
    return correct / len(pairs)


def verdicts(pairs: Sequence[LabelledPair], options: dict, with_back_translation: bool = True) -> tuple[list, float]:
    verifier = TranslationVerifier(options)
    records = [Record.from_dict(pair.record(with_back_translation), line) for line, pair in enumerate(pairs, 1)]
    started = time.perf_counter()
    result = verifier.verify_batch([(record, record.checks["translation"]) for record in records])
    return result, time.perf_counter() - started


def row(name: str, pairs: Sequence[LabelledPair], rejected: Sequence[bool], note: str = "") -> None:
    accuracy, false_keeps, false_rejects = score(pairs, rejected)
    print(f"{name:<44} {accuracy:8.3f} {false_keeps:11d} {false_rejects:13d}  {note}")


def langdetect_itself(text: str) -> str | None:
    """The anchor: the langdetect package itself, seeded as IFEval seeds it (our language ID runs
    constraints' faster equivalent of it instead)."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return languages.normalize(detect(text))
    except LangDetectException:
        return None


def language_id_table(pairs: Sequence[LabelledPair]) -> None:
    """langdetect vs lingua-restricted vs our rules on every text whose language is known."""
    samples = []
    seen = set()
    for pair in pairs:
        for text, lang in ((pair.source, pair.source_lang), (pair.translation, pair.actual_lang)):
            if (text, lang) in seen:
                continue
            seen.add((text, lang))
            prose = textparts.split(text).prose
            candidates = frozenset({pair.source_lang, pair.target_lang})
            samples.append((prose, lang, candidates, textparts.letters(prose)))
    identifier = LanguageIdentifier(use_lingua=True, short_text_letters=40)
    wide = frozenset(DEFAULT_LID_CANDIDATES)
    methods: dict[str, Callable[[str, frozenset[str]], str | None]] = {
        "langdetect (seed 0), anchor": lambda text, cands: langdetect_itself(text),
        "lingua restricted to {source, target}": lambda text, cands: identifier.detect(text, cands, "lingua").lang,
        "lingua restricted to candidates (12 + pair)": lambda text, cands: (
            identifier.detect(text, cands | wide, "lingua").lang
        ),
        "ours: script rules, lingua < 40 letters": lambda text, cands: identifier.detect(text, cands | wide).lang,
    }
    print(f"\nLanguage ID on {len(samples)} distinct texts of known language (sources and translations)")
    print(f"{'method':<46} {'short <40 letters':>18} {'long':>14} {'all':>14} {'ms/text':>8}")
    short = [s for s in samples if s[3] < 40]
    long = [s for s in samples if s[3] >= 40]
    for name, method in methods.items():
        started = time.perf_counter()
        correct = [method(text, cands) == lang for text, lang, cands, _ in samples]
        elapsed = (time.perf_counter() - started) / len(samples) * 1000
        short_ok = sum(ok for ok, s in zip(correct, samples, strict=True) if s[3] < 40)
        long_ok = sum(ok for ok, s in zip(correct, samples, strict=True) if s[3] >= 40)
        cells = [f"{ok:>4}/{total:<4}{ok / total:5.2f}" for ok, total in
                 ((short_ok, len(short)), (long_ok, len(long)), (sum(correct), len(samples)))]  # fmt: skip
        print(f"{name:<46} {cells[0]:>18} {cells[1]:>14} {cells[2]:>14} {elapsed:8.2f}")
    print("  'lingua restricted to {source, target}' cannot name a third language: it misses wrong-language outputs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with sources.yaml and pairs.yaml")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pairs")
    parser.add_argument("--embedding-model", default="all-MiniLM-L6-v2", help="sentence-transformers folder")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the embedding rows")
    args = parser.parse_args()

    pairs = labelled.load(args.data)[: args.limit]
    keep = sum(pair.keep for pair in pairs)
    languages = sorted({pair.target_lang for pair in pairs})
    print(f"{len(pairs)} labelled pairs ({keep} keep, {len(pairs) - keep} reject), target languages {languages}")
    defaults = TranslationVerifier.Options()

    print(f"\n{'method':<44} {'accuracy':>8} {'false keeps':>11} {'false rejects':>13}")
    # anchors and single methods
    chrf_values = [chrf(pair.back_translation, pair.source) for pair in pairs]
    grid = [float(value) for value in range(0, 101)]
    best = best_threshold(pairs, chrf_values, grid)
    row(f"anchor: chrF(back-translation) >= {defaults.chrf_min:g}", pairs, [v < defaults.chrf_min for v in chrf_values])
    row(
        f"anchor: chrF, best in-sample threshold {best:g}", pairs, [v < best for v in chrf_values],
        f"cross-validated accuracy {cross_validated(pairs, chrf_values, grid):.3f}",
    )  # fmt: skip
    plain = [langdetect_itself(textparts.split(pair.translation).prose) for pair in pairs]
    row(
        "anchor: langdetect alone",
        pairs,
        [lang is not None and lang != pair.target_lang for lang, pair in zip(plain, pairs, strict=True)],
    )

    lid_only, _ = verdicts(pairs, {"invariants": [], "negation": False, "chrf_min": 0}, with_back_translation=False)
    row("langid alone (ours)", pairs, [v.status == "fail" for v in lid_only])

    settings = invariants.Settings(
        defaults.length_ratio_tolerance, defaults.length_ratio_min_chars, defaults.untranslated_chrf
    )
    invariant_findings = []
    for pair in pairs:
        pair_parts = invariants.Pair(
            pair.source, pair.translation, textparts.split(pair.source), textparts.split(pair.translation),
            pair.source_lang, pair.target_lang,
        )  # fmt: skip
        invariant_findings.append(invariants.run(pair_parts, invariants.INVARIANTS, settings))
    row("invariants alone", pairs, [bool(found) for found in invariant_findings])
    negations = [
        negation.count(textparts.split(pair.source).prose, pair.source_lang)
        != negation.count(textparts.split(pair.back_translation).prose, pair.source_lang)
        for pair in pairs
    ]
    row("negation count (back-translation) alone", pairs, negations)

    embedding_values: list[float] = []
    if not args.no_embeddings:
        from verify.translation.similarity import Embedder

        embedder = Embedder(args.embedding_model, "cpu")
        started = time.perf_counter()
        embedding_values = embedder.similarities([(pair.source, pair.back_translation) for pair in pairs])
        embed_ms = (time.perf_counter() - started) / len(pairs) * 1000
        egrid = [value / 100 for value in range(0, 101)]
        ebest = best_threshold(pairs, embedding_values, egrid)
        row(
            f"embeddings >= {defaults.embedding_min:g}", pairs, [v < defaults.embedding_min for v in embedding_values],
            f"{embed_ms:.1f} ms/pair incl. model load",
        )  # fmt: skip
        row(
            f"embeddings, best in-sample threshold {ebest:.2f}", pairs, [v < ebest for v in embedding_values],
            f"cross-validated accuracy {cross_validated(pairs, embedding_values, egrid):.3f}",
        )  # fmt: skip

    structure, seconds = verdicts(pairs, {}, with_back_translation=False)
    row("combined, no back-translation (backend none)", pairs, [v.status == "fail" for v in structure],
        f"{len(pairs) / seconds:.0f} pairs/s")  # fmt: skip
    no_lingua, _ = verdicts(pairs, {"lingua": False})
    row("combined, langdetect only (lingua off)", pairs, [v.status == "fail" for v in no_lingua])
    combined, seconds = verdicts(pairs, {})
    row("combined (default: langid+invariants+chrF+negation)", pairs, [v.status == "fail" for v in combined],
        f"{len(pairs) / seconds:.0f} pairs/s")  # fmt: skip
    if not args.no_embeddings:
        with_embeddings, seconds = verdicts(pairs, {"embedding_model": args.embedding_model, "device": "cpu"})
        row("combined + embeddings", pairs, [v.status == "fail" for v in with_embeddings],
            f"{len(pairs) / seconds:.0f} pairs/s incl. model load")  # fmt: skip
    assert all(v.status in ("pass", "fail") for v in combined), "labelled pairs must all be decidable"

    print("\nCombined verdict (default options) by category: rejected / total")
    by_category: dict[str, list[bool]] = defaultdict(list)
    for pair, verdict in zip(pairs, combined, strict=True):
        by_category[pair.category].append(verdict.status == "fail")
    for category in labelled.CATEGORIES:
        if by_category[category]:
            rejected = sum(by_category[category])
            print(f"  {category:<16} {rejected:3d} / {len(by_category[category]):3d}")
    mistakes = [
        (pair, verdict)
        for pair, verdict in zip(pairs, combined, strict=True)
        if (verdict.status == "fail") == pair.keep
    ]
    print("\nMistakes of the combined verdict:")
    for pair, verdict in mistakes:
        print(f"  {pair.id} ({pair.category}, {pair.source_lang}->{pair.target_lang}): {verdict.status} {verdict.code}")
    language_id_table(pairs)


if __name__ == "__main__":
    main()
