"""Our seeded langdetect gives langdetect's own probabilities, on both draw paths."""

from __future__ import annotations

import json
from pathlib import Path

import langdetect
import pytest
from langdetect import detector_factory

from constraints import langid

EDGE_TEXTS = [
    "",
    "12345 !!! ...",
    "Hello world",
    "I love you",
    "这是一个关于天气的简短中文句子。",
    "これは日本語の文です。",
    "ЭТО ТЕКСТ НА РУССКОМ ЯЗЫКЕ",
    "THIS IS ALL CAPITALS ENGLISH TEXT ABOUT CATS",
    "see https://example.com/a?b=c and mail me at someone@example.org",
    "Tiếng Việt có dấu: người, được, những",
    "mixed Latin and кириллица и ещё немного текста",
    "ḀḁḂḃ Ḅḅ",
]


def reference_probabilities(text: str) -> list[tuple[str, float]] | None:
    detector_factory.init_factory()
    detector = detector_factory._factory.create()
    detector.seed = 0
    detector.append(text)
    try:
        return [(language.lang, language.prob) for language in detector.get_probabilities()]
    except langdetect.LangDetectException:
        return None


def sample_texts(corpora: Path) -> list[str]:
    rows = [json.loads(line) for line in (corpora / "ifeval" / "responses.jsonl").open()][::250]
    texts = list(EDGE_TEXTS)
    for row in rows:
        response = row["response"] or ""
        texts += [response, response.replace("*", ""), "\n".join(response.split("\n")[1:]).strip()]
    return texts


@pytest.mark.parametrize("fast_stream", [True, False])
def test_probabilities_and_labels_equal_langdetects(corpora: Path, fast_stream: bool, monkeypatch) -> None:
    monkeypatch.setattr(langid, "_FAST_STREAM", fast_stream)
    texts = sample_texts(corpora)
    if not fast_stream:
        texts = texts[:40]  # the fallback is langdetect-speed; a smaller sample shows it agrees
    for text in texts:
        expected = reference_probabilities(text)
        assert langid.probabilities(text) == expected, text[:80]
        label = None if expected is None else (expected[0][0] if expected else "unknown")
        assert langid.detect(text) == label, text[:80]


def test_fast_stream_is_used_on_this_interpreter() -> None:
    import numpy as np

    assert langid._stream_is_exact(np)


def test_supported_languages_are_langdetects_profiles() -> None:
    languages = langid.supported_languages()
    assert len(languages) == 55 and {"en", "de", "zh-cn", "zh-tw"} <= set(languages)
