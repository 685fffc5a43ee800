"""Plain numbers, read exactly with `fractions.Fraction` (no sympy, no floats).

Most answers are numbers, and deciding them here keeps them out of the worker processes.
Every size is capped (digits, exponents), so nothing here can run long on hostile input;
anything beyond the caps is left to the symbolic path, which runs under a hard timeout.

The rules, documented in docs/math.md:
- `1,000` / `1 000` are thousands separators; `0,111` is a decimal comma (no group starts with 0).
- `3128 1/2` and `918\\frac{1}{2}` are mixed numbers (MATH convention).
- Decimals are exact: `0.5 == 1/2`, `1000 == 1000.0`. A tolerance applies only between a decimal
  and an exact value whose decimal expansion never ends (1/3, 1/12, sqrt 17): the decimal must be
  that value rounded or truncated at its own last place, and have at least 3 significant digits
  when it is the gold (`33.3` for 100/3), 10 when it is the answer (`0.0833333333333333`).
  `4.0004` is not `4`, `0.54` is not `1/2`, `0.33` is not `1/3`.
- Percent: see `percent_readings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_DIGITS = 400
MAX_EXPONENT = 400

_INT = r"\d+"
_DECIMAL = r"(?:\d+\.\d*|\.\d+)"
_NUMBER = rf"(?:{_DECIMAL}|{_INT})"
_SIGN = r"[-+]?"
_PLAIN = re.compile(rf"^({_SIGN})\s*({_NUMBER})$")
_SCIENTIFIC = re.compile(
    rf"^({_SIGN})\s*({_NUMBER})\s*(?:[eE]\s*([-+]?\d+)|(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{{?\s*([-+]?\d+)\s*\}}?)$"
)
_POWER_OF_TEN = re.compile(r"^([-+]?)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?$")
_SLASH = re.compile(rf"^({_SIGN})\s*\(?\s*({_SIGN}{_NUMBER})\s*\)?\s*/\s*\(?\s*({_SIGN}{_NUMBER})\s*\)?$")
_FRAC = re.compile(rf"^({_SIGN})\s*\\frac\s*\{{\s*({_SIGN}\s*{_NUMBER})\s*\}}\s*\{{\s*({_SIGN}\s*{_NUMBER})\s*\}}$")
_MIXED_SLASH = re.compile(rf"^({_SIGN})\s*({_INT})\s+({_INT})\s*/\s*({_INT})$")
_MIXED_FRAC = re.compile(rf"^({_SIGN})\s*({_INT})\s*\\frac\s*\{{\s*({_INT})\s*\}}\s*\{{\s*({_INT})\s*\}}$")
_THOUSANDS = re.compile(r"^([-+]?)([1-9]\d{0,2}(?:,\d{3})+)(\.\d+)?$")
_SPACE_THOUSANDS = re.compile(r"^([-+]?)([1-9]\d{0,2}(?: \d{3})+)(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^([-+]?)0,(\d+)$")


@dataclass(frozen=True, slots=True)
class Num:
    """An exact number and how it was written.

    `places` is the number of decimal places when written as a decimal literal (`13.18` -> 2,
    `5` -> None): only such numbers can stand for a rounded value. `significant` counts the
    significant digits of such a literal. `percent` is set for `50%`.
    """

    value: Fraction
    places: int | None = None
    significant: int = 0
    percent: bool = False

    def describe(self) -> str:
        value = self.value
        text = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
        return text + ("%" if self.percent else "")


def _sign(text: str) -> int:
    return -1 if text.strip() == "-" else 1


def _decimal(text: str) -> Fraction | None:
    text = text.replace(" ", "")
    if len(text) > MAX_DIGITS:
        return None
    return Fraction(text)


def _literal(sign: str, digits: str) -> Num | None:
    """A decimal or integer literal, remembering its decimal places."""
    value = _decimal(digits)
    if value is None:
        return None
    value *= _sign(sign)
    if "." not in digits:
        return Num(value)
    whole, _, fraction = digits.partition(".")
    places = len(fraction)
    significant = len((whole + fraction).lstrip("0"))
    return Num(value, places if places else None, significant)


def parse_number(text: str) -> Num | None:
    """The exact number `text` spells, or None when it is not a plain number."""
    text = text.strip()
    percent = False
    if text.endswith("%"):
        percent = True
        text = text[:-1].strip()
    if not text or len(text) > MAX_DIGITS:
        return None
    number = _parse_unsigned_forms(text)
    if number is None:
        return None
    if percent:
        return Num(number.value, number.places, number.significant, True)
    return number


def _parse_unsigned_forms(text: str) -> Num | None:
    match = _PLAIN.match(text)
    if match:
        return _literal(match.group(1), match.group(2))
    for pattern in (_THOUSANDS, _SPACE_THOUSANDS):
        match = pattern.match(text)
        if match:
            digits = match.group(2).replace(",", "").replace(" ", "") + (match.group(3) or "")
            return _literal(match.group(1), digits)
    match = _DECIMAL_COMMA.match(text)
    if match:
        return _literal(match.group(1), "0." + match.group(2))
    match = _SCIENTIFIC.match(text)
    if match:
        exponent = int(match.group(3) or match.group(4))
        mantissa = _decimal(match.group(2))
        if mantissa is None or abs(exponent) > MAX_EXPONENT:
            return None
        return Num(_sign(match.group(1)) * mantissa * Fraction(10) ** exponent)
    match = _POWER_OF_TEN.match(text)
    if match:
        exponent = int(match.group(2))
        if abs(exponent) > MAX_EXPONENT:
            return None
        return Num(_sign(match.group(1)) * Fraction(10) ** exponent)
    for pattern in (_FRAC, _SLASH):
        match = pattern.match(text)
        if match:
            numerator, denominator = _decimal(match.group(2)), _decimal(match.group(3))
            if numerator is None or denominator is None or denominator == 0:
                return None
            return Num(_sign(match.group(1)) * numerator / denominator)
    for pattern in (_MIXED_SLASH, _MIXED_FRAC):
        match = pattern.match(text)
        if match:
            whole, numerator, denominator = (int(match.group(i)) for i in (2, 3, 4))
            if denominator == 0 or numerator >= denominator:
                return None
            return Num(_sign(match.group(1)) * (whole + Fraction(numerator, denominator)))
    return None


def terminates(value: Fraction) -> bool:
    """Whether the decimal expansion of `value` ends (its denominator is 2^a 5^b)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def rounds_to(decimal: Num, exact: Fraction) -> bool:
    """Whether `decimal` is `exact` rounded (half away from zero) or truncated at its own places."""
    if decimal.places is None:
        return False
    scale = Fraction(10) ** decimal.places
    magnitude = abs(exact) * scale
    truncated = magnitude.numerator // magnitude.denominator
    rounded = (magnitude + Fraction(1, 2)).numerator // (magnitude + Fraction(1, 2)).denominator
    sign = -1 if exact < 0 else 1
    target = decimal.value * scale
    return target in (sign * truncated, sign * rounded)


GOLD_DECIMAL_DIGITS = 3
ANSWER_DECIMAL_DIGITS = 10


def approximates(decimal: Num, exact_is_decimal_literal: bool, exact: Fraction, min_significant: int) -> bool:
    """The rounded-decimal rule: a decimal standing for an exact value whose expansion never ends.

    A gold decimal needs 3 significant digits (`33.3` for 100/3); an answer decimal needs 10, the
    precision of a printed float (`0.0833333333333333` for 1/12): a model writing `0.33` for 1/3
    did not give the exact answer, but no one types ten digits of 1/12 by accident.
    """
    if decimal.places is None or decimal.significant < min_significant or exact_is_decimal_literal:
        return False
    if terminates(exact):
        return False
    return rounds_to(decimal, exact)


def percent_readings(gold: Num, pred: Num) -> list[tuple[Fraction, Fraction]]:
    """The (gold, pred) value pairs that count as "the same quantity" when a percent sign is involved.

    - both or neither carry `%`: the numbers as written;
    - only one carries `%`: either the sign was dropped (MATH golds say `25\\%` where models box
      `25`, and `50` where models box `50\\%`), or the value is meant (`25\\%` = `0.25`).
    A bare number is never multiplied by 100 on its own: `200` is not `2`.
    """
    if gold.percent == pred.percent:
        return [(gold.value, pred.value)]
    if gold.percent:
        return [(gold.value, pred.value), (gold.value / 100, pred.value)]
    return [(gold.value, pred.value), (gold.value, pred.value / 100)]


def numbers_equal(gold: Num, pred: Num, rel_tol: float | None = None) -> bool:
    """Exact equality with the percent and rounded-decimal rules (and an optional relative tolerance)."""
    for gold_value, pred_value in percent_readings(gold, pred):
        if gold_value == pred_value:
            return True
        if rel_tol is not None and abs(gold_value - pred_value) <= Fraction(rel_tol) * abs(gold_value):
            return True
        if approximates(_scaled(gold, gold_value), pred.places is not None, pred_value, GOLD_DECIMAL_DIGITS):
            return True
        if approximates(_scaled(pred, pred_value), gold.places is not None, gold_value, ANSWER_DECIMAL_DIGITS):
            return True
    return False


def _scaled(number: Num, value: Fraction) -> Num:
    """`number` holding `value` (a percent reading divided by 100 has two more decimal places)."""
    if number.places is None or value == number.value:
        return Num(value, number.places, number.significant)
    return Num(value, number.places + 2, number.significant)


def near(approximation: Num, exact: Fraction) -> bool:
    """Whether an answer's own "≈ d" is consistent with its exact value.

    Within one unit of d's last place or within 1% (`0.577` for sqrt(3)/3, `3.01` for 9.5/3.14159);
    `1.577` for sqrt(3)/3 or `1.3` for 1/3 contradict the stated value.
    """
    unit = Fraction(1, 10 ** (approximation.places or 0))
    gap = abs(exact - approximation.value)
    return gap <= unit or gap <= abs(exact) / 100
