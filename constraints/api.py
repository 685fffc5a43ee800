"""The public API behind `constraints.<name>` (the engine import registers every checker)."""

from __future__ import annotations

from typing import Any

from constraints.engine import MODES, InstructionResult, evaluate
from constraints.registry import REGISTRY, kwargs_schema

IFEVAL_IDS: tuple[str, ...] = tuple(sorted(i for i, c in REGISTRY.items() if c.family == "ifeval"))
TULU_IDS: tuple[str, ...] = tuple(sorted(i for i, c in REGISTRY.items() if c.family == "tulu"))
LANGUAGE_INDEPENDENT: frozenset[str] = frozenset(i for i, c in REGISTRY.items() if c.language_independent)


def describe() -> list[dict[str, Any]]:
    """Every registered id (IFEval's first, then Tulu's) with its kwargs and description."""
    described = []
    for instruction_id in (*IFEVAL_IDS, *TULU_IDS):
        checker = REGISTRY[instruction_id]
        described.append(
            {
                "id": instruction_id,
                "family": checker.family,
                "description": checker.description,
                "kwargs": kwargs_schema(checker.params),
                "language_independent": checker.language_independent,
                "same_as": checker.same_as,
            }
        )
    return described


__all__ = ["IFEVAL_IDS", "LANGUAGE_INDEPENDENT", "MODES", "TULU_IDS", "InstructionResult", "describe", "evaluate"]
