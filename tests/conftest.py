"""Shared fixtures: the real SmolLM2 model folder, temp output folders."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"


@pytest.fixture(scope="session")
def smollm2_hf() -> Path:
    """SmolLM2-135M-Instruct as a plain transformers folder (converted once from the GGUF)."""
    from verify.modelio import smollm2_hf_dir

    return smollm2_hf_dir()


@pytest.fixture(scope="session")
def smollm2_gguf() -> tuple[Path, str]:
    """(folder, gguf file name) of the real GGUF download, for tests of the GGUF path itself."""
    from verify.modelio import SMOLLM2_GGUF, smollm2_dir

    return smollm2_dir(), SMOLLM2_GGUF


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.exists():
        pytest.fail(f"shared corpora not found at {CORPORA}: tests read real data from ../shared/corpora")
    return CORPORA
