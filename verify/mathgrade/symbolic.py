"""Symbolic equality with sympy. Imported only inside grader worker processes (it can hang).

Leaves are converted with `latex2sympy2_extended` (we do not write a LaTeX parser), after two
rewrites: decimals become exact fractions (`0.1` is 1/10, not a float), and Python's `**` was
already turned into `^` by cleanup. Equality is decided in this order:

1. structural equality;
2. a size guard: numbers with more than ~100k digits (`9^{9^{9^9}}`, `(10^9)!`) are never
   evaluated; two different huge expressions are an `error` (TooLarge), a huge one against a
   normal one is a mismatch;
3. constants: both sides evaluated to 50 digits; equal when they agree to 40 digits, different
   when they differ beyond 1e-25 relative, otherwise `simplify(a - b) == 0` decides;
4. expressions with variables: evaluated at 5 fixed points (both signs, so |x| is not x); any
   clear difference means different, agreement at every point means equal; when points cannot
   be evaluated (undefined functions, sums), `simplify(a - b) == 0` decides.
Equations are equal when one side-difference is a non-zero constant multiple of the other
(`2x+4y-3=0` and `y = -x/2 + 3/4`); one-variable inequalities are compared as solution sets.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
import sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, latex2sympy

from verify.mathgrade.compare import CheapScalars, NeedsSymbolic
from verify.mathgrade.numbers import (
    ANSWER_DECIMAL_DIGITS,
    GOLD_DECIMAL_DIGITS,
    Num,
    approximates,
    near,
    parse_number,
    terminates,
)
from verify.mathgrade.structure import Interval, Items, Labelled, Leaf, Matrix, Relation, Union, Value

HUGE_DIGITS = 100_000
_CONFIG = ConversionConfig(
    interpret_as_mixed_fractions=False,
    interpret_simple_eq_as_assignment=False,
    interpret_contains_as_eq=False,
    lowercase_symbols=False,
)
_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")
_LOOSE_NUMBERS = re.compile(r"(?<![_^\d.])\d+\s+\d")
_POINTS = (
    sympy.Rational(7317, 10000),
    sympy.Rational(-12913, 10000),
    sympy.Rational(16371, 10000),
    sympy.Rational(-4219, 10000),
    sympy.Rational(22791, 10000),
    sympy.Rational(13, 7),
    sympy.Rational(-29, 11),
)


class TooLarge(Exception):
    """Two different expressions too large to evaluate: the grader cannot decide."""


class Unreadable(ValueError):
    """A leaf that the LaTeX parser cannot read."""


def exact_decimals(text: str) -> str:
    """`2.5` -> `{\\frac{25}{10}}`, so sympy keeps decimals exact."""

    def rewrite(match: re.Match[str]) -> str:
        whole, fraction = match.group(1), match.group(2)
        numerator = (whole + fraction).lstrip("0") or "0"
        return f"{{\\frac{{{numerator}}}{{1{'0' * len(fraction)}}}}}"

    return _DECIMAL.sub(rewrite, text)


@lru_cache(maxsize=4096)
def to_sympy(text: str) -> Any:
    """The sympy object of one leaf (an expression, a matrix, or a relation); Unreadable if it fails."""
    number = parse_number(text)
    if number is not None:
        return sympy.Rational(number.value.numerator, number.value.denominator)
    latex = exact_decimals(text)
    if _LOOSE_NUMBERS.search(latex):
        raise Unreadable(f"cannot read {text!r}: two numbers side by side")
    try:
        result = latex2sympy(latex, normalization_config=None, conversion_config=_CONFIG)
    except Exception as exc:  # the parser raises bare Exception for syntax errors
        raise Unreadable(f"cannot read {text!r} as math ({type(exc).__name__})") from exc
    if isinstance(result, sympy.MatrixExpr):
        try:
            result = result.doit().as_explicit()
        except Exception as exc:
            raise Unreadable(f"cannot evaluate the matrix expression {text!r}") from exc
    if isinstance(result, (sympy.Basic, sympy.MatrixBase)):
        return result
    raise Unreadable(f"cannot read {text!r} as one value")


# ---------------------------------------------------------------- size guard


def log10_size(expr: Any, depth: int = 0) -> float:
    """An upper estimate of log10 |expr| for number-valued parts (inf when it overflows)."""
    if depth > 50:
        return math.inf
    if isinstance(expr, sympy.Integer):
        return max(int(expr).bit_length() * 0.30103, 0.0)
    if isinstance(expr, sympy.Rational):
        return max(expr.p.bit_length(), expr.q.bit_length()) * 0.30103
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        base_size = log10_size(base, depth + 1)
        exponent_size = log10_size(exponent, depth + 1)
        if exponent_size > 300:
            return math.inf if base_size > 0 or _is_big_base(base) else 0.0
        try:
            exponent_value = abs(float(exponent)) if exponent.is_number else 10.0**exponent_size
        except (TypeError, ValueError, OverflowError):
            exponent_value = 10.0**exponent_size
        return max(base_size, 1.0) * exponent_value
    if isinstance(expr, sympy.factorial):
        n_size = log10_size(expr.args[0], depth + 1)
        if n_size > 300:
            return math.inf
        n = 10.0**n_size
        return n * max(math.log10(max(n, 2.0)), 1.0)
    if isinstance(expr, sympy.exp):
        argument_size = log10_size(expr.args[0], depth + 1)
        return math.inf if argument_size > 300 else 0.4343 * 10.0**argument_size
    args = getattr(expr, "args", ())
    if not args:
        return 0.0
    sizes = [log10_size(arg, depth + 1) for arg in args]
    return sum(sizes) if isinstance(expr, sympy.Mul) else max(sizes) + 1.0


def _is_big_base(base: Any) -> bool:
    try:
        return bool(base.is_number and abs(complex(base)) > 1.0)
    except (TypeError, ValueError, OverflowError):
        return True


def is_huge(expr: Any) -> bool:
    return log10_size(expr) > HUGE_DIGITS


# ---------------------------------------------------------------- numeric evaluation


def evaluate(expr: Any, subs: dict | None = None) -> mpmath.mpc | None:
    """`expr` to 50 digits as an mpmath complex, or None when it is not a finite number."""
    try:
        value = expr.evalf(50, subs=subs) if subs else expr.evalf(50)
    except Exception:
        return None
    if not getattr(value, "is_number", False) or value.free_symbols:
        return None
    if value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    try:
        real, imaginary = value.as_real_imag()
        real, imaginary = sympy.Float(real, 50), sympy.Float(imaginary, 50)
    except (TypeError, ValueError):
        return None
    return mpmath.mpc(mpmath.mpf(real._mpf_), mpmath.mpf(imaginary._mpf_))


def _relative_gap(a: mpmath.mpc, b: mpmath.mpc) -> mpmath.mpf | None:
    """|a - b| relative to the larger of the two; None when both are (numerically) zero.

    Relative, never absolute: 1/2004! and 1/2006! are both below 1e-5000 and still differ.
    """
    scale = max(abs(a), abs(b))
    if scale == 0:
        return mpmath.mpf(0)
    if min(abs(a), abs(b)) == 0 and scale < mpmath.mpf("1e-45"):
        return None  # exact zero against evaluation noise: let simplification decide
    return abs(a - b) / scale


def _simplifies_to_zero(expr: Any) -> bool:
    try:
        return sympy.simplify(expr) == 0
    except Exception:
        return False


def exprs_equal(gold: Any, pred: Any) -> bool:
    """Whether two sympy expressions are equal (see the module doc for the order of tests)."""
    if gold == pred:
        return True
    if isinstance(gold, sympy.MatrixBase) or isinstance(pred, sympy.MatrixBase):
        return _matrices_equal(gold, pred)
    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr)):
        return False
    gold_huge, pred_huge = is_huge(gold), is_huge(pred)
    if gold_huge and pred_huge:
        raise TooLarge("both values have more than 100,000 digits and differ in form")
    if gold_huge or pred_huge:
        return False
    gold, pred = canonical(gold), canonical(pred)
    if gold == pred:
        return True
    if gold.has(sympy.oo, -sympy.oo, sympy.zoo) or pred.has(sympy.oo, -sympy.oo, sympy.zoo):
        return False
    symbols = sorted(gold.free_symbols | pred.free_symbols, key=str)
    if not symbols:
        return _constants_equal(gold, pred)
    if not (_unevaluable(gold) or _unevaluable(pred)):
        decided = _equal_at_points(gold, pred, symbols)
        if decided is not None:
            return decided
    return _simplifies_to_zero(gold - pred)


def canonical(expr: Any) -> Any:
    """`expr` rebuilt bottom-up with evaluation on: unevaluated products from the parser get
    sympy's canonical argument order, so equal expressions compare equal structurally.
    Only called on expressions that passed the size guard (rebuilding evaluates powers)."""
    if not getattr(expr, "args", ()) or not isinstance(expr, sympy.Basic):
        return expr
    try:
        return expr.func(*(canonical(arg) for arg in expr.args))
    except Exception:
        return expr


_UNEVALUABLE = (sympy.Sum, sympy.Product, sympy.Integral, sympy.Limit, sympy.Derivative)


def _unevaluable(expr: Any) -> bool:
    """Sums, integrals, limits and undefined functions: point evaluation is slow or meaningless."""
    return bool(expr.atoms(*_UNEVALUABLE)) or bool(expr.atoms(sympy.core.function.AppliedUndef))


def _constants_equal(gold: Any, pred: Any) -> bool:
    a, b = evaluate(gold), evaluate(pred)
    if a is None or b is None:
        return _simplifies_to_zero(gold - pred)
    gap = _relative_gap(a, b)
    if gap is not None and gap <= mpmath.mpf("1e-40"):
        return True
    if gap is not None and gap > mpmath.mpf("1e-25"):
        return False
    return _simplifies_to_zero(gold - pred)


def _points(symbols: list[Any]) -> list[dict]:
    return [
        {symbol: _POINTS[(trial * 3 + index * 2) % len(_POINTS)] for index, symbol in enumerate(symbols)}
        for trial in range(5)
    ]


def _equal_at_points(gold: Any, pred: Any, symbols: list[Any]) -> bool | None:
    """True when equal at every point, False at the first clear difference, None when undecidable."""
    agreed = 0
    for subs in _points(symbols):
        a, b = evaluate(gold, subs), evaluate(pred, subs)
        if a is None and b is None:
            continue
        if a is None or b is None:
            return None if agreed == 0 else False
        gap = _relative_gap(a, b)
        if gap is None:
            continue
        if gap > mpmath.mpf("1e-20"):
            return False
        agreed += 1
    return True if agreed >= 3 else None


def _matrices_equal(gold: Any, pred: Any) -> bool:
    if not (isinstance(gold, sympy.MatrixBase) and isinstance(pred, sympy.MatrixBase)):
        return False
    if gold.shape != pred.shape:
        return False
    return all(exprs_equal(g, p) for g, p in zip(gold, pred, strict=True))


# ---------------------------------------------------------------- rounded decimals against exact values


def decimal_matches_exact(decimal: Num, exact: Any, min_significant: int) -> bool:
    """The rounded-decimal rule of `numbers.approximates`, for an exact side that is not a plain number."""
    if decimal.places is None or decimal.significant < min_significant:
        return False
    if not isinstance(exact, sympy.Expr) or exact.free_symbols:
        return False
    if is_huge(exact):
        return False
    if isinstance(exact, sympy.Rational):
        value = Fraction(int(exact.p), int(exact.q))
        return not terminates(value) and approximates(decimal, False, value, min_significant)
    digits = decimal.places + 30
    try:
        value = exact.evalf(max(digits, 50))
    except Exception:
        return False
    if not value.is_real or not value.is_Float:
        return False
    as_fraction = Fraction(str(value))
    return approximates(decimal, False, as_fraction, min_significant)


# ---------------------------------------------------------------- the backend used by compare.Comparer


class SympyScalars(CheapScalars):
    """Scalar, relation and set equality with sympy, after the plain-number rules of CheapScalars."""

    def leaf_equal(self, gold: Leaf, pred: Leaf) -> bool:
        try:
            return super().leaf_equal(gold, pred)
        except NeedsSymbolic:
            pass
        gold_expr, pred_expr = to_sympy(gold.text), to_sympy(pred.text)
        for gold_value, pred_value in _percent_readings(gold, pred, gold_expr, pred_expr):
            if exprs_equal(gold_value, pred_value):
                return True
            if self.rel_tol is not None and _within(gold_value, pred_value, self.rel_tol):
                return True
        if (
            gold.num is not None
            and not gold.percent
            and decimal_matches_exact(gold.num, pred_expr, GOLD_DECIMAL_DIGITS)
        ):
            return True
        return (
            pred.num is not None
            and not pred.percent
            and decimal_matches_exact(pred.num, gold_expr, ANSWER_DECIMAL_DIGITS)
        )

    def approximation_holds(self, leaf: Leaf) -> bool:
        """An answer's own `\\approx d` must agree with its stated value to d's last place."""
        try:
            return super().approximation_holds(leaf)
        except NeedsSymbolic:
            pass
        value = to_sympy(leaf.text)
        if not isinstance(value, sympy.Expr) or value.free_symbols or is_huge(value):
            return True
        exact = evaluate(value)
        if exact is None or abs(exact.imag) > 0:
            return True
        as_fraction = Fraction(mpmath.nstr(exact.real, 40, min_fixed=-(10**6), max_fixed=10**6))
        approximations = [parse_number(text) for text in leaf.approx]
        return all(near(number, as_fraction) for number in approximations if number is not None)

    def relation_equal(self, gold: Relation, pred: Relation) -> bool:
        if gold == pred:
            return True
        gold_sides = [to_sympy(part) for part in gold.parts]
        pred_sides = [to_sympy(part) for part in pred.parts]
        if gold.ops == ("=",) and pred.ops == ("=",):
            return _proportional(gold_sides[0] - gold_sides[1], pred_sides[0] - pred_sides[1], positive=False)
        gold_set, pred_set = _relation_set(gold, gold_sides), _relation_set(pred, pred_sides)
        if gold_set is not None and pred_set is not None:
            return _sets_same(gold_set, pred_set)
        if len(gold.ops) == 1 and len(pred.ops) == 1 and gold.ops[0] != "=" and pred.ops[0] != "=":
            g, g_strict = _positive_form(gold.ops[0], gold_sides)
            p, p_strict = _positive_form(pred.ops[0], pred_sides)
            return g_strict == p_strict and _proportional(g, p, positive=True)
        return False

    def sets_equal(self, gold: Value, pred: Value) -> bool:
        gold_set, pred_set = _as_set(gold), _as_set(pred)
        if gold_set is None or pred_set is None:
            return False
        return _sets_same(gold_set, pred_set)

    def leaf_vs_value(self, gold: Value, pred: Value) -> bool:
        return exprs_equal(_as_matrix_or_expr(gold), _as_matrix_or_expr(pred))


def _within(gold: Any, pred: Any, rel_tol: float) -> bool:
    a, b = evaluate(gold), evaluate(pred)
    if a is None or b is None:
        return False
    return abs(a - b) <= mpmath.mpf(rel_tol) * abs(a)


def _percent_readings(gold: Leaf, pred: Leaf, gold_expr: Any, pred_expr: Any) -> list[tuple[Any, Any]]:
    """The percent rule of `numbers.percent_readings`, for symbolic values."""
    gold_percent = gold.percent or (gold.num is not None and gold.num.percent)
    pred_percent = pred.percent or (pred.num is not None and pred.num.percent)
    if gold_percent == pred_percent:
        return [(gold_expr, pred_expr)]
    if gold_percent:
        return [(gold_expr, pred_expr), (gold_expr / 100, pred_expr)]
    return [(gold_expr, pred_expr), (gold_expr, pred_expr / 100)]


def _proportional(gold: Any, pred: Any, positive: bool) -> bool:
    """Whether gold = k * pred for a constant k != 0 (k > 0 when `positive`)."""
    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr)):
        return False
    symbols = sorted(gold.free_symbols | pred.free_symbols, key=str)
    ratios = []
    for subs in _points(symbols) if symbols else [{}]:
        a, b = evaluate(gold, subs), evaluate(pred, subs)
        if a is None or b is None:
            continue
        if abs(b) < mpmath.mpf("1e-30"):
            if abs(a) < mpmath.mpf("1e-30"):
                continue
            return False
        ratios.append(a / b)
    if len(ratios) >= (3 if symbols else 1):
        first = ratios[0]
        if abs(first) < mpmath.mpf("1e-30"):
            return False
        if any((_relative_gap(first, ratio) or 0) > mpmath.mpf("1e-20") for ratio in ratios[1:]):
            return False
        return not positive or (abs(first.imag) < mpmath.mpf("1e-30") and first.real > 0)
    try:
        ratio = sympy.simplify(gold / pred)
    except Exception:
        return False
    if ratio.free_symbols or ratio == 0:
        return False
    return not positive or bool(ratio.is_positive)


def _positive_form(op: str, sides: list[Any]) -> tuple[Any, bool]:
    """`l < r` -> (r - l, strict): the expression that the relation says is positive."""
    left, right = sides
    if op in ("<", "\\le"):
        return right - left, op == "<"
    return left - right, op == ">"


_SYMPY_OPS = {"<": sympy.Lt, ">": sympy.Gt, "\\le": sympy.Le, "\\ge": sympy.Ge, "=": sympy.Eq, "\\ne": sympy.Ne}


def _relation_set(relation: Relation, sides: list[Any]) -> Any | None:
    """The real solution set of a relation in one variable, or None."""
    if any(op not in _SYMPY_OPS for op in relation.ops):
        return None
    if not all(isinstance(side, sympy.Expr) for side in sides):
        return None
    symbols = set().union(*(side.free_symbols for side in sides))
    if len(symbols) != 1:
        return None
    symbol = symbols.pop()
    real = sympy.Symbol(symbol.name, real=True)
    parts = [side.subs(symbol, real) for side in sides]
    relations = [_SYMPY_OPS[op](parts[i], parts[i + 1]) for i, op in enumerate(relation.ops)]
    try:
        return sympy.And(*relations).as_set()
    except Exception:
        return None


def _as_set(value: Value) -> Any | None:
    if isinstance(value, Labelled):
        return _as_set(value.value)
    if isinstance(value, Interval):
        return sympy.Interval(
            to_sympy(value.low.text), to_sympy(value.high.text), not value.left_closed, not value.right_closed
        )
    if isinstance(value, Items) and value.kind == "pair" and all(isinstance(item, Leaf) for item in value.items):
        low, high = value.items
        return sympy.Interval.open(to_sympy(low.text), to_sympy(high.text))  # type: ignore[union-attr]
    if isinstance(value, Items) and value.kind == "set" and all(isinstance(item, Leaf) for item in value.items):
        return sympy.FiniteSet(*(to_sympy(item.text) for item in value.items))  # type: ignore[union-attr]
    if isinstance(value, Union):
        parts = [_as_set(part) for part in value.parts]
        return None if any(part is None for part in parts) else sympy.Union(*parts)
    if isinstance(value, Relation):
        return _relation_set(value, [to_sympy(part) for part in value.parts])
    return None


def _sets_same(gold: Any, pred: Any) -> bool:
    if gold == pred:
        return True
    try:
        return bool(sympy.Complement(gold, pred).is_empty and sympy.Complement(pred, gold).is_empty)
    except Exception:
        return False


def _as_matrix_or_expr(value: Value) -> Any:
    if isinstance(value, Matrix):
        return sympy.Matrix([[to_sympy(cell.text) for cell in row] for row in value.rows])
    assert isinstance(value, Leaf)
    return to_sympy(value.text)
