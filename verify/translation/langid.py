"""Language identification that is deterministic and honest about what it cannot tell.

Three rules, in order (TRAPS.md explains the first two):
1. Script decides where it can: a text whose letters are mostly Han/kana/Hangul is Chinese,
   Japanese or Korean by which of those scripts it uses. langdetect calls short Chinese text
   Korean; the script cannot be wrong about that. Greek, Hebrew, Thai work the same way.
2. Short texts (fewer letters than `short_text_letters`) go to lingua restricted to the
   candidate languages when it is installed and enabled: it is far better than langdetect
   there. Longer texts go to langdetect with a fixed seed (unseeded, it is random), computed
   by `constraints.langid`, which gives langdetect's own probabilities faster.
3. Text with no letters at all (empty, digits, symbols) is *undetermined*, never a failure by
   itself: the caller decides what an undetermined language means.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

from verify.translation import languages

SINGLE_LANGUAGE_SCRIPTS = {
    "GREEK": "el",
    "HEBREW": "he",
    "THAI": "th",
    "HANGUL": "ko",
    "GEORGIAN": "ka",
    "ARMENIAN": "hy",
}


@dataclass(frozen=True)
class Detection:
    """A detector's answer: `lang` is a bare ISO 639-1 code or None (undetermined)."""

    lang: str | None
    confidence: float
    method: str  # "script", "lingua", "langdetect" or "none"

    def to_dict(self) -> dict[str, Any]:
        return {"lang": self.lang, "confidence": round(self.confidence, 4), "method": self.method}


def script_of(char: str) -> str | None:
    """The script of a letter by its Unicode name (HAN, HIRAGANA, LATIN, CYRILLIC, ...)."""
    if not char.isalpha():
        return None
    if "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff":
        return "HAN"
    try:
        word = unicodedata.name(char).split()[0]
    except ValueError:
        return None
    return "HAN" if word == "CJK" else word


def script_counts(text: str) -> Counter[str]:
    return Counter(script for script in map(script_of, text) if script)


def by_script(counts: Counter[str]) -> Detection | None:
    """The language a text's script alone proves, or None when the script is shared."""
    total = sum(counts.values())
    if not total:
        return None
    cjk = counts["HAN"] + counts["HIRAGANA"] + counts["KATAKANA"] + counts["HANGUL"]
    if cjk / total >= 0.5:
        if counts["HANGUL"] >= cjk / 2:
            return Detection("ko", counts["HANGUL"] / cjk, "script")
        kana = counts["HIRAGANA"] + counts["KATAKANA"]
        if kana / cjk >= 0.05:
            return Detection("ja", kana / cjk, "script")
        return Detection("zh", counts["HAN"] / cjk, "script")
    script, count = counts.most_common(1)[0]
    if script in SINGLE_LANGUAGE_SCRIPTS and count / total >= 0.5:
        return Detection(SINGLE_LANGUAGE_SCRIPTS[script], count / total, "script")
    return None


class LanguageIdentifier:
    """Detects languages of prose; one instance per verifier (detectors are cached, thread-safe)."""

    def __init__(self, use_lingua: bool = True, short_text_letters: int = 40, seed: int = 0) -> None:
        self.use_lingua = use_lingua
        self.short_text_letters = short_text_letters
        self.seed = seed
        self._lingua: dict[frozenset[str], Any] = {}
        self._lock = threading.Lock()

    def detect(self, text: str, candidates: frozenset[str] = frozenset(), method: str = "auto") -> Detection:
        """The language of `text`; `candidates` restrict lingua on short texts.

        `method` forces one detector ("langdetect", "lingua"); "auto" applies the rules above.
        """
        counts = script_counts(text)
        letter_count = sum(counts.values())
        if letter_count == 0:
            return Detection(None, 0.0, "none")
        if method == "auto":
            scripted = by_script(counts)
            if scripted is not None:
                return scripted
            if self.use_lingua and letter_count < self.short_text_letters and candidates:
                method = "lingua"
            else:
                method = "langdetect"
        if method == "lingua":
            return self._detect_lingua(text, candidates)
        return self._detect_langdetect(text)

    def _detect_langdetect(self, text: str) -> Detection:
        from constraints import language_probabilities

        ranked = language_probabilities(text, self.seed)  # None: no features in text
        if not ranked:
            return Detection(None, 0.0, "langdetect")
        lang, prob = ranked[0]
        return Detection(languages.normalize(lang), float(prob), "langdetect")

    def _detect_lingua(self, text: str, candidates: frozenset[str]) -> Detection:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        key = frozenset(candidates)
        with self._lock:
            detector = self._lingua.get(key)
            if detector is None:
                supported = {language.iso_code_639_1.name.lower() for language in Language.all()}
                codes = [getattr(IsoCode639_1, code.upper()) for code in sorted(key) if code in supported]
                if len(codes) < 2:  # lingua needs two languages to choose between
                    codes.append(IsoCode639_1.EN if IsoCode639_1.EN not in codes else IsoCode639_1.DE)
                detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()
                self._lingua[key] = detector
        ranked = detector.compute_language_confidence_values(text)
        if not ranked or ranked[0].value <= 0:
            return Detection(None, 0.0, "lingua")
        top = ranked[0]
        return Detection(top.language.iso_code_639_1.name.lower(), float(top.value), "lingua")
