"""Decide one (gold answer, extracted answer) pair: the outcome dict a verdict is built from.

Two entry points share every rule:
- `decide_cheap` runs in the main process and settles what needs no sympy (equal spellings,
  plain numbers, shapes that already differ); it returns None when sympy is needed.
- `decide_symbolic` runs in a grader worker (it can hang, so it must be killable) and settles
  the rest.
Gold goes first: an unreadable gold is an `error` (`math.bad_gold`), never a fail of the response.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from verify.mathgrade.cleanup import clean
from verify.mathgrade.compare import SAME, CheapScalars, Comparer, Match, NeedsSymbolic
from verify.mathgrade.extract import LABELS
from verify.mathgrade.structure import Items, Labelled, Leaf, Matrix, Relation, Unparseable, Value, parse_clean

SHOWN_CHARS = 80


@dataclass(frozen=True, slots=True)
class Settings:
    """Per-case grading settings (from the verifier options and the record's spec)."""

    rel_tol: float | None = None
    ordered: bool = False
    max_answer_chars: int = 2000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def outcome(status: str, code: str, reason: str, **details: Any) -> dict[str, Any]:
    return {"status": status, "code": code, "reason": reason, "details": details}


def _details(gold: str, pred: str, method: str, decided_by: str) -> dict[str, Any]:
    return {"extracted": shorten(pred, 200), "method": method, "gold": shorten(gold, 200), "decided_by": decided_by}


def _verdict(
    match: Match, gold_text: str, pred_text: str, method: str, gold: str, pred: str, decided_by: str
) -> dict[str, Any]:
    label = LABELS.get(method, method)
    details = _details(gold, pred, method, decided_by)
    if match.equal:
        return outcome("pass", "math.equal", f"{shorten(pred_text)} = {shorten(gold_text)} ({label})", **details)
    if match.reason:
        return outcome("fail", "math.mismatch", f"{match.reason} (extracted by {label})", **details)
    return outcome(
        "fail", "math.mismatch", f"extracted {shorten(pred_text)} ({label}); gold {shorten(gold_text)}", **details
    )


def _prepare(gold: str, pred: str, method: str, settings: Settings) -> dict[str, Any] | tuple[str, str]:
    """The early decisions every path makes, or the two cleaned strings."""
    if len(pred) > settings.max_answer_chars:
        if pred.strip() == gold.strip():
            return outcome(
                "pass",
                "math.equal",
                f"the {len(pred)}-character answer equals the gold exactly",
                **_details(gold, pred, method, "string"),
            )
        return outcome(
            "error",
            "math.too_long",
            f"the extracted answer has {len(pred)} characters; answers over {settings.max_answer_chars} are not graded",
            **_details(gold, pred, method, "length"),
        )
    if len(gold) > settings.max_answer_chars:
        return outcome(
            "error",
            "math.bad_gold",
            f"the gold answer has {len(gold)} characters; at most {settings.max_answer_chars} are graded",
            **_details(gold, pred, method, "length"),
        )
    gold_text, pred_text = clean(gold), clean(pred)
    if not gold_text:
        return outcome(
            "error", "math.bad_gold", "the gold answer is empty after cleanup", **_details(gold, pred, method, "string")
        )
    if gold_text == pred_text:
        return _verdict(SAME, gold_text, pred_text, method, gold, pred, "string")
    return gold_text, pred_text


def _parse_both(
    gold: str, pred: str, method: str, gold_text: str, pred_text: str
) -> dict[str, Any] | tuple[Value, Value]:
    try:
        gold_value = parse_clean(gold_text)
    except (Unparseable, RecursionError) as exc:
        return outcome(
            "error",
            "math.bad_gold",
            f"could not read the gold answer {shorten(gold_text)!r}: {_why(exc)}",
            **_details(gold, pred, method, "parse"),
        )
    try:
        pred_value = parse_clean(pred_text) if pred_text else None
    except (Unparseable, RecursionError) as exc:
        return _unreadable(gold, pred, method, pred_text, _why(exc))
    if pred_value is None:
        return _unreadable(gold, pred, method, pred_text, "it is empty")
    return gold_value, pred_value


def _why(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def _unreadable(gold: str, pred: str, method: str, pred_text: str, why: str) -> dict[str, Any]:
    label = LABELS.get(method, method)
    return outcome(
        "fail",
        "math.unreadable",
        f"could not read the extracted answer {shorten(pred_text)!r} ({label}) as math: {why}",
        **_details(gold, pred, method, "parse"),
    )


def _read(gold: str, pred: str, method: str, settings: Settings) -> dict[str, Any] | tuple[str, str, Value, Value]:
    """An early outcome, or the cleaned texts and value trees of both answers."""
    prepared = _prepare(gold, pred, method, settings)
    if isinstance(prepared, dict):
        return prepared
    gold_text, pred_text = prepared
    parsed = _parse_both(gold, pred, method, gold_text, pred_text)
    if isinstance(parsed, dict):
        return parsed
    return gold_text, pred_text, parsed[0], parsed[1]


def decide_cheap(gold: str, pred: str, method: str, settings: Settings) -> dict[str, Any] | None:
    """A decision without sympy, or None when the case needs a worker."""
    read = _read(gold, pred, method, settings)
    if isinstance(read, dict):
        # an unreadable answer is only failed after the worker has checked the gold is readable
        return None if read["code"] == "math.unreadable" else read
    gold_text, pred_text, gold_value, pred_value = read
    if _has_symbolic_leaf(gold_value):
        return None  # the gold must be checked readable (by sympy) before any verdict
    try:
        match = Comparer(CheapScalars(settings.rel_tol), settings.ordered).compare(gold_value, pred_value)
    except NeedsSymbolic:
        return None
    return _verdict(match, gold_text, pred_text, method, gold, pred, "numbers")


def decide_symbolic(gold: str, pred: str, method: str, settings: Settings) -> dict[str, Any]:
    """The full decision (sympy allowed). Run it in a killable worker."""
    from verify.mathgrade.symbolic import SympyScalars, TooLarge, Unreadable, to_sympy

    read = _read(gold, pred, method, settings)
    if isinstance(read, dict):
        return read
    gold_text, pred_text, gold_value, pred_value = read
    try:
        for leaf_text in symbolic_texts(gold_value):
            to_sympy(leaf_text)
    except Unreadable as exc:
        return outcome(
            "error",
            "math.bad_gold",
            f"could not read the gold answer {shorten(gold_text)!r}: {exc}",
            **_details(gold, pred, method, "sympy"),
        )
    try:
        match = Comparer(SympyScalars(settings.rel_tol), settings.ordered).compare(gold_value, pred_value)
    except Unreadable as exc:
        return _unreadable(gold, pred, method, pred_text, str(exc))
    except TooLarge as exc:
        return outcome(
            "error",
            "math.too_large",
            f"cannot compare {shorten(pred_text)} with {shorten(gold_text)}: {exc}",
            **_details(gold, pred, method, "sympy"),
        )
    except RecursionError:
        return outcome(
            "error",
            "math.too_large",
            "the expressions are nested too deeply to compare",
            **_details(gold, pred, method, "sympy"),
        )
    return _verdict(match, gold_text, pred_text, method, gold, pred, "sympy")


def symbolic_texts(value: Value) -> list[str]:
    """Every leaf text of a value tree that is not a plain number (what sympy must read)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Leaf):
            if node.num is None:
                found.append(node.text)
        elif isinstance(node, Relation):
            found.extend(node.parts)
        elif isinstance(node, Labelled):
            walk(node.value)
        elif isinstance(node, Matrix):
            for row in node.rows:
                for cell in row:
                    walk(cell)
        elif isinstance(node, Items):
            for item in node.items:
                walk(item)
        else:
            for name in ("low", "high", "parts"):
                child = getattr(node, name, None)
                if isinstance(child, tuple):
                    for item in child:
                        walk(item)
                elif child is not None:
                    walk(child)

    walk(value)
    return found


def _has_symbolic_leaf(value: Value) -> bool:
    return bool(symbolic_texts(value))
