"""Compare two value trees, gold first, and say why they differ.

The shape rules live here (see docs/math.md): bare lists and sets are unordered and ignore
repeats ("roots in any order"), tuples and pairs are ordered, interval brackets matter, a
named value `x = 3` equals `3`, `±` means both signs. Scalars are compared by a backend:
`CheapScalars` decides plain numbers exactly and raises `NeedsSymbolic` for anything else, so
the main process can settle most cases without IPC; the worker uses `symbolic.SympyScalars`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from verify.mathgrade.numbers import near, numbers_equal, parse_number
from verify.mathgrade.structure import (
    BaseNum,
    Choice,
    Interval,
    Items,
    Labelled,
    Leaf,
    Matrix,
    Ratio,
    Relation,
    Text,
    Time,
    Union,
    Value,
)


class NeedsSymbolic(Exception):
    """Raised by the cheap backend: this comparison needs sympy (a worker process)."""


@dataclass(frozen=True, slots=True)
class Match:
    equal: bool
    reason: str = ""  # set when the shapes differ; a plain value mismatch leaves it empty


SAME = Match(True)


class Scalars(Protocol):
    def leaf_equal(self, gold: Leaf, pred: Leaf) -> bool: ...

    def relation_equal(self, gold: Relation, pred: Relation) -> bool: ...

    def sets_equal(self, gold: Value, pred: Value) -> bool: ...

    def leaf_vs_value(self, gold: Value, pred: Value) -> bool: ...

    def approximation_holds(self, leaf: Leaf) -> bool: ...


class CheapScalars:
    """Plain numbers only (exact `Fraction` rules); everything else needs sympy."""

    def __init__(self, rel_tol: float | None = None) -> None:
        self.rel_tol = rel_tol

    def leaf_equal(self, gold: Leaf, pred: Leaf) -> bool:
        if gold.num is not None and pred.num is not None:
            return numbers_equal(gold.num, pred.num, self.rel_tol)
        if gold.text == pred.text and gold.percent == pred.percent:
            return True
        raise NeedsSymbolic

    def relation_equal(self, gold: Relation, pred: Relation) -> bool:
        if gold == pred:
            return True
        raise NeedsSymbolic

    def approximation_holds(self, leaf: Leaf) -> bool:
        approximations = [parse_number(text) for text in leaf.approx]
        if leaf.num is None or any(number is None for number in approximations):
            raise NeedsSymbolic
        return all(near(number, leaf.num.value) for number in approximations if number is not None)

    def sets_equal(self, gold: Value, pred: Value) -> bool:
        raise NeedsSymbolic

    def leaf_vs_value(self, gold: Value, pred: Value) -> bool:
        raise NeedsSymbolic


SET_LIKE = (Interval, Union, Relation)


class Comparer:
    """Gold-first comparison of value trees with one scalar backend."""

    def __init__(self, scalars: Scalars, ordered: bool = False) -> None:
        self.scalars = scalars
        self.ordered = ordered

    def compare(self, gold: Value, pred: Value) -> Match:
        if isinstance(gold, Labelled) or isinstance(pred, Labelled):
            return self._labelled(gold, pred)
        if isinstance(gold, Items) or isinstance(pred, Items):
            return self._items(gold, pred)
        if isinstance(gold, Leaf) and isinstance(pred, Leaf):
            if not self.scalars.leaf_equal(gold, pred):
                return Match(False)
            if pred.approx and not self.scalars.approximation_holds(pred):
                said = ", ".join(pred.approx)
                return Match(False, f"the answer says {pred.text} ≈ {said}, which does not hold")
            return SAME
        if type(gold) is type(pred) and not isinstance(gold, SET_LIKE):
            return self._same_kind(gold, pred)
        if isinstance(gold, SET_LIKE) or isinstance(pred, SET_LIKE):
            return self._sets(gold, pred)
        return self._mixed(gold, pred)

    # -- names: `x = 3` is its value, except against an equation
    def _labelled(self, gold: Value, pred: Value) -> Match:
        if isinstance(gold, Labelled) and isinstance(gold.value, Leaf) and isinstance(pred, Relation):
            return self._sets(_as_relation(gold), pred)
        if isinstance(pred, Labelled) and isinstance(pred.value, Leaf) and isinstance(gold, Relation):
            return self._sets(gold, _as_relation(pred))
        return self.compare(_unlabel(gold), _unlabel(pred))

    # -- several answers
    def _items(self, gold: Value, pred: Value) -> Match:
        one_is_items = isinstance(gold, Items) != isinstance(pred, Items)
        if one_is_items and (_is_pair(gold) or _is_pair(pred)) and _set_like(gold) and _set_like(pred):
            return self._sets(gold, pred)
        if not isinstance(pred, Items):
            assert isinstance(gold, Items)
            distinct = self._distinct(gold.items) if gold.kind in ("list", "set") else list(gold.items)
            if len(distinct) == 1:
                return self.compare(distinct[0], pred)
            return Match(False, f"gold has {len(gold.items)} answers ({gold.describe()}); the answer has 1")
        if not isinstance(gold, Items):
            distinct = self._distinct(pred.items) if pred.kind in ("list", "set") else list(pred.items)
            if len(distinct) == 1:
                return self.compare(gold, distinct[0])
            return Match(False, f"gold is one answer; the answer has {len(pred.items)} ({pred.describe()})")
        if gold.kind == "group" and pred.kind == "group":
            return self._groups(gold, pred)
        if gold.kind == "group" or pred.kind == "group":
            return self._ordered(_values(gold), _values(pred))
        ordered_kinds = {"tuple", "pair"}
        if gold.kind in ordered_kinds and pred.kind in ordered_kinds:
            return self._ordered(gold.items, pred.items)
        if gold.kind in ordered_kinds or pred.kind in ordered_kinds:
            return Match(
                False, f"gold is {_kind_name(gold)} {gold.describe()}, answer {_kind_name(pred)} {pred.describe()}"
            )
        if self.ordered and gold.kind == "list" and pred.kind == "list":
            return self._ordered(gold.items, pred.items)
        return self._unordered(gold.items, pred.items)

    def _groups(self, gold: Items, pred: Items) -> Match:
        gold_map = {item.label: item.value for item in gold.items if isinstance(item, Labelled)}
        pred_map = {item.label: item.value for item in pred.items if isinstance(item, Labelled)}
        if set(gold_map) != set(pred_map):
            return self._ordered(_values(gold), _values(pred))
        for label, value in gold_map.items():
            match = self.compare(value, pred_map[label])
            if not match.equal:
                return Match(
                    False, match.reason or f"{label}: gold {value.describe()}, answer {pred_map[label].describe()}"
                )
        return SAME

    def _ordered(self, gold: tuple[Value, ...], pred: tuple[Value, ...]) -> Match:
        if len(gold) != len(pred):
            return Match(False, f"gold has {len(gold)} components, the answer {len(pred)}")
        for index, (g, p) in enumerate(zip(gold, pred, strict=True)):
            match = self.compare(g, p)
            if not match.equal:
                return Match(
                    False, match.reason or f"component {index + 1} differs: gold {g.describe()}, answer {p.describe()}"
                )
        return SAME

    def _unordered(self, gold: tuple[Value, ...], pred: tuple[Value, ...]) -> Match:
        """Set semantics: every gold answer is given, nothing else is, repeats do not count."""
        gold_unique = self._distinct(gold)
        pred_unique = self._distinct(pred)
        pairs: dict[tuple[int, int], bool] = {}

        def equal(i: int, j: int) -> bool:
            if (i, j) not in pairs:
                pairs[i, j] = self.compare(gold_unique[i], pred_unique[j]).equal
            return pairs[i, j]

        golds, preds = range(len(gold_unique)), range(len(pred_unique))
        missing = [gold_unique[i] for i in golds if not any(equal(i, j) for j in preds)]
        extra = [pred_unique[j] for j in preds if not any(equal(i, j) for i in golds)]
        if not missing and not extra:
            return SAME
        parts = []
        if missing:
            parts.append("missing " + ", ".join(value.describe() for value in missing[:5]))
        if extra:
            parts.append("not in the gold: " + ", ".join(value.describe() for value in extra[:5]))
        return Match(False, "; ".join(parts))

    def _distinct(self, values: tuple[Value, ...]) -> list[Value]:
        distinct: list[Value] = []
        for value in values:
            if not any(self.compare(kept, value).equal for kept in distinct):
                distinct.append(value)
        return distinct

    # -- intervals, unions, relations
    def _sets(self, gold: Value, pred: Value) -> Match:
        if isinstance(gold, Interval) and isinstance(pred, Interval):
            return self._intervals(gold, pred)
        if isinstance(gold, Interval) and _is_pair(pred):
            return self._intervals(gold, _pair_interval(pred))
        if isinstance(pred, Interval) and _is_pair(gold):
            return self._intervals(_pair_interval(gold), pred)
        if isinstance(gold, Union) and isinstance(pred, Union) and len(gold.parts) == len(pred.parts):
            if self._unordered(gold.parts, pred.parts).equal:
                return SAME
        if isinstance(gold, Relation) and isinstance(pred, Relation):
            return Match(self.scalars.relation_equal(gold, pred))
        if not (_set_like(gold) and _set_like(pred)):
            return Match(
                False, f"gold is {_kind_name(gold)} {gold.describe()}, answer {_kind_name(pred)} {pred.describe()}"
            )
        return Match(self.scalars.sets_equal(gold, pred))

    def _intervals(self, gold: Interval, pred: Interval) -> Match:
        if (gold.left_closed, gold.right_closed) != (pred.left_closed, pred.right_closed):
            return Match(False, f"gold is an interval {gold.describe()}, answer {pred.describe()}")
        if self.scalars.leaf_equal(gold.low, pred.low) and self.scalars.leaf_equal(gold.high, pred.high):
            return SAME
        return Match(False, f"gold is an interval {gold.describe()}, answer {pred.describe()}")

    # -- one kind on both sides
    def _same_kind(self, gold: Value, pred: Value) -> Match:
        if isinstance(gold, Text) and isinstance(pred, Text):
            return Match(gold.words == pred.words)
        if isinstance(gold, Choice) and isinstance(pred, Choice):
            return Match(gold.letter == pred.letter)
        if isinstance(gold, Matrix) and isinstance(pred, Matrix):
            return self._matrices(gold, pred)
        if isinstance(gold, Ratio) and isinstance(pred, Ratio):
            return self._ordered(gold.parts, pred.parts)
        if isinstance(gold, Time) and isinstance(pred, Time):
            return Match(_times_equal(gold, pred))
        if isinstance(gold, BaseNum) and isinstance(pred, BaseNum):
            return Match(
                gold == pred,
                "" if gold.base == pred.base else f"gold is in base {gold.base}, answer in base {pred.base}",
            )
        raise AssertionError(f"unhandled kind {type(gold).__name__}")

    def _matrices(self, gold: Matrix, pred: Matrix) -> Match:
        gold_shape = (len(gold.rows), len(gold.rows[0]))
        pred_shape = (len(pred.rows), len(pred.rows[0]))
        if gold_shape != pred_shape:
            return Match(
                False, f"gold is a {gold_shape[0]}x{gold_shape[1]} matrix, answer {pred_shape[0]}x{pred_shape[1]}"
            )
        cells = zip((c for row in gold.rows for c in row), (c for row in pred.rows for c in row), strict=True)
        return Match(all(self.scalars.leaf_equal(g, p) for g, p in cells))

    # -- different kinds
    def _mixed(self, gold: Value, pred: Value) -> Match:
        letter = _choice_letter(gold, pred)
        if letter is not None:
            return Match(letter)
        if isinstance(gold, Matrix) and isinstance(pred, Leaf) or isinstance(pred, Matrix) and isinstance(gold, Leaf):
            return Match(self.scalars.leaf_vs_value(gold, pred))
        if {type(gold), type(pred)} == {Time, Ratio}:
            time, ratio = (gold, pred) if isinstance(gold, Time) else (pred, gold)
            assert isinstance(time, Time) and isinstance(ratio, Ratio)
            if time.meridiem is None:
                return self._ordered(_time_parts(time), ratio.parts)
        if {type(gold), type(pred)} == {BaseNum, Leaf}:
            base, leaf = (gold, pred) if isinstance(gold, BaseNum) else (pred, gold)
            assert isinstance(base, BaseNum) and isinstance(leaf, Leaf)
            digits = leaf.text.lstrip("0") or "0"
            return Match(
                digits == base.digits, f"gold {gold.describe()}, answer {pred.describe()} (a base-{base.base} number)"
            )
        if isinstance(gold, Text) and isinstance(pred, Leaf) or isinstance(pred, Text) and isinstance(gold, Leaf):
            text = gold if isinstance(gold, Text) else pred
            leaf = pred if isinstance(gold, Text) else gold
            assert isinstance(text, Text) and isinstance(leaf, Leaf)
            return Match(text.words == leaf.text.lower())
        return Match(
            False, f"gold is {_kind_name(gold)} {gold.describe()}, answer {_kind_name(pred)} {pred.describe()}"
        )


def _unlabel(value: Value) -> Value:
    return value.value if isinstance(value, Labelled) else value


def _values(items: Items) -> tuple[Value, ...]:
    return tuple(_unlabel(item) for item in items.items)


def _as_relation(value: Labelled) -> Relation:
    assert isinstance(value.value, Leaf)
    return Relation((value.label, value.value.text), ("=",))


def _is_pair(value: Value) -> bool:
    return isinstance(value, Items) and value.kind == "pair" and all(isinstance(item, Leaf) for item in value.items)


def _pair_interval(value: Value) -> Interval:
    assert isinstance(value, Items)
    low, high = value.items
    assert isinstance(low, Leaf) and isinstance(high, Leaf)
    return Interval(low, high, False, False)


def _set_like(value: Value) -> bool:
    if isinstance(value, SET_LIKE):
        return True
    if _is_pair(value):
        return True
    return isinstance(value, Items) and value.kind == "set"


def _choice_letter(gold: Value, pred: Value) -> bool | None:
    """`(C)` against a bare letter `C`: the same choice."""
    choice = gold if isinstance(gold, Choice) else pred if isinstance(pred, Choice) else None
    other = pred if choice is gold else gold
    if choice is None or not isinstance(other, Leaf):
        return None
    assert isinstance(choice, Choice)
    return other.text.strip() == choice.letter


def _times_equal(gold: Time, pred: Time) -> bool:
    if gold.meridiem and pred.meridiem:
        return _minutes(gold) == _minutes(pred)
    if gold.meridiem or pred.meridiem:
        with_meridiem, plain = (gold, pred) if gold.meridiem else (pred, gold)
        if (plain.hour, plain.minute) == (with_meridiem.hour, with_meridiem.minute):
            return True
        return _minutes(with_meridiem) == plain.hour * 60 + plain.minute
    return (gold.hour, gold.minute) == (pred.hour, pred.minute)


def _minutes(time: Time) -> int:
    hour = time.hour % 12
    if time.meridiem == "pm":
        hour += 12
    return hour * 60 + time.minute


def _time_parts(time: Time) -> tuple[Leaf, ...]:
    return tuple(Leaf(str(part), parse_number(str(part))) for part in (time.hour, time.minute))


def _kind_name(value: Value) -> str:
    if isinstance(value, Items):
        return {"list": "a list", "set": "a set", "tuple": "a tuple", "pair": "a pair", "group": "named values"}[
            value.kind
        ]
    names = {
        Leaf: "the value",
        Interval: "an interval",
        Union: "a union",
        Matrix: "a matrix",
        Relation: "the relation",
        Text: "the text",
        Choice: "the choice",
        Ratio: "the ratio",
        Time: "the time",
        BaseNum: "the number",
    }
    return names.get(type(value), "the value")
