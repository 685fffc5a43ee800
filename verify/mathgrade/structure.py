"""Turn a cleaned answer string into a value tree: what kind of answer it is, before any sympy.

Why our own top level instead of the LaTeX parser's: the grading rules are about the *shape* of
an answer (a set of roots in any order, an ordered pair, an interval whose brackets matter, a
labelled value `x = 3`, a computation `35 + 70 = 105`), and those rules must be explicit and
documented. Leaves (single expressions) go to sympy later, in a worker process.

Shapes (see docs/math.md for every rule):
- `Leaf`: one expression; `num` is set when it is a plain number (decided without sympy).
- `Items`: several values. `list` (a bare `1, 2`: any order), `set` (`\\{1,2\\}`: any order),
  `tuple` (`(1,2,3)`, `\\langle..\\rangle`: ordered), `pair` (`(1,2)`: an ordered pair or an open
  interval), `group` (`x=1, y=2`: named values).
- `Interval`, `Union`, `Matrix`, `Relation` (an equation or inequality that is not `name = value`),
  `Labelled` (`x = 3`), `Text` (words), `Choice` (`(C)`), `Ratio` (`7:32`), `Time` (`4:30 p.m.`),
  `BaseNum` (`204_5`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verify.mathgrade.cleanup import clean, strip_units
from verify.mathgrade.numbers import Num, parse_number

MAX_ITEMS = 64
MAX_PLUS_MINUS = 3


@dataclass(frozen=True, slots=True)
class Leaf:
    """One expression. `approx` keeps what the answer said it is approximately (`\\approx 0.577`):
    the stated value is graded, and an answer whose own approximation contradicts it fails."""

    text: str
    num: Num | None = None
    percent: bool = False
    approx: tuple[str, ...] = ()

    def describe(self) -> str:
        return self.num.describe() if self.num is not None else self.text + ("%" if self.percent else "")


@dataclass(frozen=True, slots=True)
class Items:
    kind: str  # list | set | tuple | pair | group
    items: tuple[Value, ...]

    def describe(self) -> str:
        inner = ", ".join(item.describe() for item in self.items)
        return {"set": "{%s}", "tuple": "(%s)", "pair": "(%s)"}.get(self.kind, "%s") % inner


@dataclass(frozen=True, slots=True)
class Interval:
    low: Leaf
    high: Leaf
    left_closed: bool
    right_closed: bool

    def describe(self) -> str:
        return (
            ("[" if self.left_closed else "(")
            + f"{self.low.describe()},{self.high.describe()}"
            + ("]" if self.right_closed else ")")
        )


@dataclass(frozen=True, slots=True)
class Union:
    parts: tuple[Value, ...]

    def describe(self) -> str:
        return " ∪ ".join(part.describe() for part in self.parts)


@dataclass(frozen=True, slots=True)
class Matrix:
    rows: tuple[tuple[Leaf, ...], ...]

    def describe(self) -> str:
        return "matrix " + "; ".join(", ".join(cell.describe() for cell in row) for row in self.rows)


@dataclass(frozen=True, slots=True)
class Relation:
    parts: tuple[str, ...]
    ops: tuple[str, ...]

    def describe(self) -> str:
        out = self.parts[0]
        for op, part in zip(self.ops, self.parts[1:], strict=True):
            out += f" {op} {part}"
        return out


@dataclass(frozen=True, slots=True)
class Labelled:
    label: str
    value: Value

    def describe(self) -> str:
        return f"{self.label} = {self.value.describe()}"


@dataclass(frozen=True, slots=True)
class Text:
    words: str

    def describe(self) -> str:
        return self.words


@dataclass(frozen=True, slots=True)
class Choice:
    letter: str

    def describe(self) -> str:
        return f"({self.letter})"


@dataclass(frozen=True, slots=True)
class Ratio:
    parts: tuple[Leaf, ...]

    def describe(self) -> str:
        return ":".join(part.describe() for part in self.parts)


@dataclass(frozen=True, slots=True)
class Time:
    hour: int
    minute: int
    meridiem: str | None

    def describe(self) -> str:
        return f"{self.hour}:{self.minute:02d}" + (f" {self.meridiem}" if self.meridiem else "")


@dataclass(frozen=True, slots=True)
class BaseNum:
    digits: str
    base: int

    def describe(self) -> str:
        return f"{self.digits}_{self.base}"


Value = Leaf | Items | Interval | Union | Matrix | Relation | Labelled | Text | Choice | Ratio | Time | BaseNum


class Unparseable(ValueError):
    """The text is not an answer we can read (empty, unbalanced, too many parts)."""


# ---------------------------------------------------------------- splitting at the top level

_OPENERS = "([{"
_CLOSERS = ")]}"
_ENV = re.compile(r"\\(begin|end)\{[a-zA-Z*]+\}")


def depth_map(text: str) -> list[int]:
    """Bracket depth before each character; `\\begin{..}`/`\\end{..}` count as brackets."""
    depths = []
    depth = 0
    i = 0
    envs = {m.start(): m for m in _ENV.finditer(text)}
    while i < len(text):
        env = envs.get(i)
        if env is not None:
            if env.group(1) == "end":
                depth -= 1
            depths.extend([depth] * (env.end() - i))
            if env.group(1) == "begin":
                depth += 1
            i = env.end()
            continue
        char = text[i]
        if char in _CLOSERS:
            depth -= 1
        depths.append(depth)
        if char in _OPENERS:
            depth += 1
        i += 1
    return depths


def split_top(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split at matches of `pattern` that sit outside every bracket."""
    depths = depth_map(text)
    parts, start = [], 0
    for match in pattern.finditer(text):
        if match.start() < len(depths) and depths[match.start()] == 0:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    return parts


def wrapped(text: str) -> tuple[str, str, str] | None:
    """(opener, inner, closer) when the whole text is one bracketed group, like `[0,1)` or `\\{1,2\\}`."""
    if len(text) < 2 or text[0] not in _OPENERS + "\\" or text[-1] not in _CLOSERS:
        return None
    if text.startswith("\\{") and text.endswith("\\}"):
        inner = text[2:-2]
        return ("\\{", inner, "\\}") if _balanced(inner) else None
    if text.startswith("\\langle") and text.endswith("\\rangle"):
        inner = text[len("\\langle") : -len("\\rangle")]
        return ("<", inner, ">") if _balanced(inner) else None
    if text[0] not in _OPENERS:
        return None
    depths = depth_map(text)
    if any(d <= 0 for d in depths[1:-1]) or depths[-1] != 0:
        return None
    return text[0], text[1:-1], text[-1]


def _balanced(text: str) -> bool:
    depths = depth_map(text)
    return all(d >= 0 for d in depths) and (not text or depth_map(text + " ")[-1] == 0)


_SEMICOLON = re.compile(r";")
_COMMA = re.compile(r",")
_CONNECTOR = re.compile(r"(?<![A-Za-z\\])(?:and|or)(?![a-z])|\\(?:text|mbox)\s*\{\s*(?:and|or)\s*\}")
_CUP = re.compile(r"\\cup(?![a-z])|(?<=[)\]])\s*U\s*(?=[(\[])")  # `\\cup`, or a plain `(..) U [..]`
_RELATION = re.compile(
    r"\\le(?![a-z])|\\ge(?![a-z])|\\ne(?![a-z])|\\approx(?![a-z])|\\in(?![a-z])|\\equiv(?![a-z])|<|>|="
)
_WHOLE_THOUSANDS = re.compile(r"^([^,]*?)(?<![\d.,])([-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?)(?![\d,])([^,]*)$")


def parse(answer: str) -> Value:
    """The value tree of an extracted answer (cleaned first)."""
    text = clean(answer)
    if not text:
        raise Unparseable("the answer is empty")
    return parse_clean(text)


def parse_clean(text: str) -> Value:
    number = parse_number(text)
    if number is not None:
        return Leaf(text, number, number.percent)
    choice = _CHOICE.match(text)
    if choice:
        return Choice(choice.group(1) or choice.group(2))
    match = _WHOLE_THOUSANDS.match(text)
    if match:
        text = match.group(1) + match.group(2).replace(",", "") + match.group(3)
    solutions = [part.strip() for part in split_top(text, _SEMICOLON) if part.strip()]
    if len(solutions) > 1:
        return _collect([_parse_list(part) for part in solutions])
    return _parse_list(text)


def _parse_list(text: str) -> Value:
    pieces: list[str] = []
    for part in split_top(text, _COMMA):
        pieces.extend(piece.strip() for piece in split_top(part, _CONNECTOR))
    pieces = [piece for piece in pieces if piece]
    if not pieces:
        raise Unparseable("the answer is empty")
    if len(pieces) > MAX_ITEMS:
        raise Unparseable(f"the answer has {len(pieces)} parts; at most {MAX_ITEMS} are compared")
    if len(pieces) == 1:
        return parse_item(pieces[0])
    return _collect([parse_item(piece) for piece in pieces])


def _collect(values: list[Value]) -> Value:
    """Several values: named values become a group, repeated names a list of groups or of values."""
    labels = [value.label if isinstance(value, Labelled) else None for value in values]
    if all(labels):
        distinct = list(dict.fromkeys(labels))
        if len(distinct) == len(labels):
            return Items("group", tuple(values))
        size = len(distinct)
        if len(labels) % size == 0 and all(labels[i] == distinct[i % size] for i in range(len(labels))) and size > 1:
            groups = [Items("group", tuple(values[i : i + size])) for i in range(0, len(values), size)]
            return Items("list", tuple(groups))
    flat = [value.value if isinstance(value, Labelled) else value for value in values]
    return Items("list", tuple(flat))


# ---------------------------------------------------------------- one item

_PM = re.compile(r"\\pm(?![a-z])|\\mp(?![a-z])|\+-|\+/-")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})\s*(?:([ap])\.?\s*m\.?)?$", re.IGNORECASE)
_BASE = re.compile(r"^([0-9A-Fa-f]+)_\{?(\d{1,2})\}?$")
_CHOICE = re.compile(r"^\(([A-J])\)(?:\s.*)?$|^([A-J])[.):]\s+\S.*$")
_TEXT = re.compile(r"^[A-Za-z][A-Za-z' -]*$")
_YES_NO = {"yes", "no", "true", "false", "none", "odd", "even"}
_MATRIX = re.compile(
    r"^\\begin\{([pbBvV]?matrix|array|smallmatrix)\}(?:\{[^{}]*\})?((?:(?!\\begin\{|\\end\{).)*)\\end\{\1\}$", re.DOTALL
)


def parse_item(text: str) -> Value:
    text = text.strip()
    if not text:
        raise Unparseable("empty part")
    if _PM.search(text):
        return Items("list", tuple(parse_item(variant) for variant in plus_minus_variants(text)))
    relation = _relation(text)
    if relation is not None:
        return relation
    union = [part.strip() for part in split_top(text, _CUP)]
    if len(union) > 1:
        return Union(tuple(parse_item(part) for part in union))
    bracketed = wrapped(text)
    if bracketed is not None:
        return _bracketed(*bracketed)
    matrix = _MATRIX.match(text)
    if matrix:
        return _matrix(matrix.group(2))
    return _atom(text)


def plus_minus_variants(text: str) -> list[str]:
    """`1 \\pm \\sqrt{19}` -> [`1 + \\sqrt{19}`, `1 - \\sqrt{19}`] (at most 3 signs: 8 variants)."""
    signs = _PM.findall(text)
    if len(signs) > MAX_PLUS_MINUS:
        raise Unparseable(f"{len(signs)} ± signs; at most {MAX_PLUS_MINUS} are expanded")
    variants = [text]
    for _ in signs:
        expanded = []
        for variant in variants:
            match = _PM.search(variant)
            assert match is not None
            first, second = ("-", "+") if match.group(0) == "\\mp" else ("+", "-")
            expanded.append(variant[: match.start()] + first + variant[match.end() :])
            expanded.append(variant[: match.start()] + second + variant[match.end() :])
        variants = expanded
    return variants


def _atom(text: str) -> Value:
    time = _TIME.match(text)
    if time:
        meridiem = (time.group(3) or "").lower() or None
        return Time(int(time.group(1)), int(time.group(2)), f"{meridiem}m" if meridiem else None)
    choice = _CHOICE.match(text)
    if choice:
        return Choice(choice.group(1) or choice.group(2))
    base = _BASE.match(text)
    if base and int(base.group(2)) >= 2 and not base.group(1).isalpha():
        return BaseNum(base.group(1).upper().lstrip("0") or "0", int(base.group(2)))
    if _TEXT.match(text) and _is_words(text):
        return Text(" ".join(text.lower().split()))
    ratio = split_top(text, re.compile(r":"))
    if len(ratio) > 1 and all(part.strip() for part in ratio):
        return Ratio(tuple(_leaf(part.strip()) for part in ratio))
    return _leaf(text)


def _is_words(text: str) -> bool:
    words = text.replace("-", " ").split()
    return any(len(word) >= 3 for word in words) or text.lower() in _YES_NO


def _leaf(text: str) -> Leaf:
    text = strip_units(text)
    if not text:
        raise Unparseable("empty part")
    number = parse_number(text)
    if number is not None:
        return Leaf(text, number, number.percent)
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    return Leaf(text, None, percent)


def _bracketed(opener: str, inner: str, closer: str) -> Value:
    parts = [part.strip() for part in split_top(inner, re.compile(r"[,;]"))]
    if opener == "\\{" or (opener == "{" and len(parts) > 1):
        if len(parts) == 1 and not parts[0]:
            return Items("set", ())
        return Items("set", tuple(parse_item(part) for part in parts))
    if opener == "{":
        return parse_item(inner)
    if opener == "<":
        return Items("tuple", tuple(parse_item(part) for part in parts))
    if len(parts) == 1:
        if (opener, closer) not in (("(", ")"), ("[", "]")):
            raise Unparseable(f"mismatched brackets around {inner}")
        return parse_item(inner)
    if len(parts) == 2 and opener == "(" and closer == ")":
        return Items("pair", tuple(parse_item(part) for part in parts))
    if len(parts) == 2:
        low, high = (_atom_leaf(part) for part in parts)
        if low is not None and high is not None:
            return Interval(low, high, opener == "[", closer == "]")
    if opener == "(" and closer == ")" or opener == "[" and closer == "]":
        return Items("tuple", tuple(parse_item(part) for part in parts))
    raise Unparseable(f"cannot read {opener}{inner}{closer}")


def _atom_leaf(text: str) -> Leaf | None:
    value = parse_item(text)
    return value if isinstance(value, Leaf) else None


def _matrix(body: str) -> Matrix:
    rows = [row for row in re.split(r"\\\\(?:\[[^\]]*\])?", body) if row.strip()]
    cells = tuple(tuple(_leaf(cell.strip()) for cell in row.split("&")) for row in rows)
    if not cells or len({len(row) for row in cells}) != 1:
        raise Unparseable("a matrix with rows of different lengths")
    return Matrix(cells)


# ---------------------------------------------------------------- relations and labels

_GREEK = (
    "alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|rho|sigma|tau|"
    "upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega"
)
_NAME = re.compile(r"^(?:\\(?:" + _GREEK + r")(?![A-Za-z])|[A-Za-z])+$")
_SUBSCRIPT = re.compile(r"_\s*\{[^{}]*\}|_\s*[A-Za-z0-9]|'+|\^\s*\{?\s*\\prime\s*\}?")
_DECORATION = re.compile(
    r"\\(?:overline|bar|vec|hat|widehat|overrightarrow|tilde)\s*\{([^{}]*)\}|\\(?:angle|triangle|measuredangle)\s*|\bm\\angle\s*"
)
_CALL = re.compile(r"^([^()]+)\(([^()]*)\)$")
_FRACTION_OF_NAMES = re.compile(r"^\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}$")


def is_label(text: str) -> bool:
    """Whether `text` names a quantity (`x`, `a_{37}`, `f(x)`, `|AB|`, `\\frac{NO}{BO}`, `(p,q)`, `V_1:V_2`).

    A name has no numerals outside subscripts and arguments and no arithmetic: `2x+z`, `11a+c`
    and `7` are expressions, so `2x+z = 1` stays an equation and is never read as `1`.
    """
    text = text.strip()
    if not text:
        return False
    text = _DECORATION.sub(lambda m: m.group(1) or "", text).strip()
    text = _SUBSCRIPT.sub("", text).replace(" ", "")
    if not text:
        return False
    if text.startswith("|") and text.endswith("|") and len(text) > 2:
        # |AB| is the length of a segment (a name); |z| is the absolute value of a variable.
        inner = text[1:-1]
        return len(inner) >= 2 and inner.isalpha() and inner.isupper()
    bracketed = wrapped(text)
    if bracketed is not None and bracketed[0] == "(" and bracketed[2] == ")":
        return all(is_label(part) for part in bracketed[1].split(","))
    fraction = _FRACTION_OF_NAMES.match(text)
    if fraction:
        return is_label(fraction.group(1)) and is_label(fraction.group(2))
    if ":" in text:
        return all(is_label(part) for part in text.split(":"))
    call = _CALL.match(text)
    if call:
        return bool(_NAME.match(call.group(1)))
    return bool(_NAME.match(text)) and len(text) <= 24


_CONSTANT_WORDS = re.compile(
    r"\\(?:frac|sqrt|pi|cdot|times|div|left|right|infty|circ|log|ln|sin|cos|tan|exp)(?![A-Za-z])|\be\b"
)


def is_constant(text: str) -> bool:
    """No variables: digits, operators and constant-making commands only (`35 + 70`, `\\frac{1}{2}`)."""
    return not re.search(r"[A-Za-z]", _CONSTANT_WORDS.sub("", text))


_INEQUALITY = {"<": "<", ">": ">", "\\le": "<=", "\\ge": ">="}


def _relation(text: str) -> Value | None:
    pieces = split_top(text, _RELATION)
    if len(pieces) == 1:
        return None
    depths = depth_map(text)
    ops = [m.group(0) for m in _RELATION.finditer(text) if depths[m.start()] == 0]
    parts = [piece.strip() for piece in pieces]
    parts, ops, approximations = _drop_approximations(parts, ops)
    if approximations:
        return _with_approximations(_relation_or_item(parts, ops, text), approximations)
    return _relation_or_item(parts, ops, text)


def _relation_or_item(parts: list[str], ops: list[str], text: str) -> Value:
    if len(parts) > 1 and not parts[0] and ops[0] == "=":
        parts, ops = parts[1:], ops[1:]  # "= 72000 / 18 = 4000" after a dropped label
    if len(parts) == 1:
        return parse_item(parts[0])
    if any(not part for part in parts):
        raise Unparseable(f"a relation with an empty side: {text}")
    if all(op == "=" for op in ops):
        if is_label(parts[0]):
            return Labelled(parts[0].replace(" ", ""), parse_item(parts[-1]))
        if all(is_constant(part) for part in parts):
            return parse_item(parts[-1])
        return Relation(tuple(parts), tuple(ops))
    if ops == ["\\in"] and is_label(parts[0]):
        return Labelled(parts[0].replace(" ", ""), parse_item(parts[1]))
    interval = _label_interval(parts, ops)
    if interval is not None:
        return interval
    return Relation(tuple(parts), tuple(ops))


def _drop_approximations(parts: list[str], ops: list[str]) -> tuple[list[str], list[str], list[str]]:
    """`x = 1/3 \\approx 0.33` -> `x = 1/3` plus the dropped `0.33`; `x \\approx 11` -> `x = 11`."""
    dropped: list[str] = []
    while "\\approx" in ops:
        index = ops.index("\\approx")
        if index == 0 and is_label(parts[0]):
            ops[0] = "="
            continue
        dropped = [part for part, op in zip(parts[index + 1 :], ops[index:], strict=True) if op == "\\approx"]
        parts, ops = parts[: index + 1], ops[:index]
    return parts, ops, dropped


def _with_approximations(value: Value, approximations: list[str]) -> Value:
    """Attach dropped approximations (never empty) to the stated value (a leaf, possibly named)."""
    if isinstance(value, Labelled):
        return Labelled(value.label, _with_approximations(value.value, approximations))
    if isinstance(value, Leaf):
        return Leaf(value.text, value.num, value.percent, tuple(approximations))
    return value


def _label_interval(parts: list[str], ops: list[str]) -> Value | None:
    """`a < x <= b`, `x > 5`, `5 \\ge x`, `x \\ne 3` about a named quantity, as the set it describes."""
    if any(op not in _INEQUALITY and op != "\\ne" for op in ops):
        return None
    infinity, minus_infinity = Leaf("\\infty"), Leaf("-\\infty")
    if len(parts) == 2 and ops == ["\\ne"]:
        name, bound = (0, 1) if is_label(parts[0]) else (1, 0)
        if not is_label(parts[name]):
            return None
        point = _atom_leaf(parts[bound])
        if point is None:
            return None
        return Union((Interval(minus_infinity, point, False, False), Interval(point, infinity, False, False)))
    if "\\ne" in ops:
        return None
    if len(parts) == 3 and is_label(parts[1]) and not (is_label(parts[0]) or is_label(parts[2])):
        directions = {_INEQUALITY[op][0] for op in ops}
        if len(directions) != 1:
            return None
        low_index, high_index = (0, 2) if directions == {"<"} else (2, 0)
        low, high = _atom_leaf(parts[low_index]), _atom_leaf(parts[high_index])
        if low is None or high is None:
            return None
        first, second = (ops[0], ops[1]) if low_index == 0 else (ops[1], ops[0])
        return Interval(low, high, first in ("\\le", "\\ge"), second in ("\\le", "\\ge"))
    if len(parts) == 2:
        op = _INEQUALITY[ops[0]]
        if is_label(parts[0]) and not is_label(parts[1]):
            bound = _atom_leaf(parts[1])
            upper = op.startswith("<")
        elif is_label(parts[1]) and not is_label(parts[0]):
            bound = _atom_leaf(parts[0])
            upper = op.startswith(">")
        else:
            return None
        if bound is None:
            return None
        closed = op.endswith("=")
        if upper:
            return Interval(minus_infinity, bound, False, closed)
        return Interval(bound, infinity, closed, False)
    return None
