"""Labelled translation sets: loading them and turning them into records.

A labelled set is two YAML files: `sources.yaml` (key -> [language, text]) and `pairs.yaml`
(translations with a category, and a hand-written back-translation). The project's own set
lives in tests/data/translation; `bench/translation_accuracy.py --data DIR` reads any folder
of the same shape, so thresholds can be re-calibrated on a team's own data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEEP_CATEGORIES = frozenset({"faithful", "paraphrase"})
CATEGORIES = (
    "faithful", "paraphrase", "negation", "number", "truncated", "untranslated", "wrong_language", "code", "placeholder",
)  # fmt: skip


@dataclass(frozen=True)
class LabelledPair:
    id: str
    category: str
    source: str
    source_lang: str
    target_lang: str
    translation: str
    back_translation: str
    actual_lang: str  # the language the translation is really written in

    @property
    def keep(self) -> bool:
        return self.category in KEEP_CATEGORIES

    def record(self, with_back_translation: bool = True) -> dict[str, Any]:
        """The canonical record (DESIGN.md §1) a pipeline would see for this pair."""
        spec: dict[str, Any] = {"source": self.source, "source_lang": self.source_lang, "target_lang": self.target_lang}
        if with_back_translation:
            spec["back_translation"] = self.back_translation
        return {
            "id": self.id,
            "messages": [
                {"role": "user", "content": f"Translate into {self.target_lang}:\n\n{self.source}"},
                {"role": "assistant", "content": self.translation},
            ],
            "checks": {"translation": spec},
        }


def load(folder: Path) -> list[LabelledPair]:
    """Every pair of a labelled set; raises ValueError naming the first malformed entry."""
    import yaml

    sources = yaml.safe_load((folder / "sources.yaml").read_text(encoding="utf-8"))
    rows = yaml.safe_load((folder / "pairs.yaml").read_text(encoding="utf-8"))
    pairs = []
    for row in rows:
        if row.get("cat") not in CATEGORIES:
            raise ValueError(f"pair {row.get('id')!r}: unknown category {row.get('cat')!r}")
        if row.get("src") not in sources:
            raise ValueError(f"pair {row.get('id')!r}: unknown source key {row.get('src')!r}")
        source_lang, source = sources[row["src"]]
        pairs.append(
            LabelledPair(
                id=row["id"],
                category=row["cat"],
                source=source,
                source_lang=source_lang,
                target_lang=row["tgt"],
                translation=row["text"],
                back_translation=row["bt"],
                actual_lang=row.get("actual", row["tgt"]),
            )  # fmt: skip
        )
    return pairs
