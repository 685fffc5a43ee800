"""Rewrite an extracted answer into one canonical LaTeX-ish spelling, before any parsing.

Why a separate, purely textual step: most disagreements between a correct answer and the gold
are spelling (`\\dfrac` vs `\\frac`, `10{,}000` vs `10000`, `\\$6` vs `6`, `\\text{ cm}^2`), and
after this step equal spellings compare as plain strings without touching sympy. Every rule is
a general rewrite of notation; none reads the gold.
"""

from __future__ import annotations

import re

from verify.mathgrade.extract import match_brace

_UNICODE = {
    "\u2212": "-",
    "\u2013": "-",
    "\u00d7": r"\times ",
    "\u00b7": r"\cdot ",
    "\u22c5": r"\cdot ",
    "\u00f7": r"\div ",
    "\u221a": r"\sqrt",
    "\u03c0": r"\pi ",
    "\u221e": r"\infty ",
    "\u2264": r"\le ",
    "\u2265": r"\ge ",
    "\u2260": r"\ne ",
    "\u2248": r"\approx ",
    "\u222a": r"\cup ",
    "\u2229": r"\cap ",
    "\u2208": r"\in ",
    "\u00b1": r"\pm ",
    "\u2213": r"\mp ",
    "\u00b0": r"^\circ",
    "\u00b2": "^2",
    "\u00b3": "^3",
    "\u2205": r"\emptyset ",
    "\u211d": r"\mathbb{R}",
    "\uff0c": ",",
    "\uff1a": ":",
    "\uff08": "(",
    "\uff09": ")",
    "\u3001": ",",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

# Commands whose doubled backslash (`\\frac`, a JSON double-escape) means the command itself.
_COMMANDS = (
    "frac|dfrac|tfrac|cfrac|sqrt|pi|infty|le|leq|ge|geq|ne|neq|lt|gt|cdot|times|div|pm|mp|text|textbf|mathrm|mbox|"
    "left|right|boxed|in|cup|cap|sin|cos|tan|sec|csc|cot|log|ln|exp|alpha|beta|gamma|delta|theta|lambda|mu|sigma|"
    "phi|omega|approx|circ|begin|end|dots|ldots|cdots|emptyset|varnothing|quad|qquad|mathbb|angle|triangle|degree"
)
_DOUBLE_BACKSLASH = re.compile(r"(?<!\\)\\\\(?=(?:" + _COMMANDS + r")(?![A-Za-z]))")
_SIZERS = re.compile(r"\\(?:left|right|middle|[bB]igg?[lr]?)\s*(?:\\?\.(?![0-9]))?")
_STYLE = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|mathstrut|strut|phantom\{[^{}]*\})")
_WRAPPERS = (
    "text|textbf|textit|textrm|textsf|texttt|textnormal|textup|mathrm|mathbf|mathit|mathsf|mathtt|mathcal|mathscr|"
    "mbox|hbox|operatorname|emph|boldsymbol|bm|mathnormal|textcolor\\{[^{}]*\\}|color\\{[^{}]*\\}"
)
_WRAPPER_RE = re.compile(r"\\(?:" + _WRAPPERS + r")\s*(?=\{)")
_FRAC_ALIASES = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_FRAC_SHORT = (
    (re.compile(r"\\frac\s*([0-9A-Za-z])\s*([0-9A-Za-z])"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*([0-9A-Za-z])\s*(?=\{)"), r"\\frac{\1}"),
    (re.compile(r"\\frac\s*(\{[^{}]*\})\s*([0-9A-Za-z])"), r"\\frac\1{\2}"),
)
_SQRT_SHORT = re.compile(r"\\sqrt\s*([0-9A-Za-z])")
_SPACING = re.compile(r"\\[,:;> ]|\\q?quad|\\enspace|\\thinspace|\\hspace\{[^{}]*\}|~")
_DIGIT_GROUP = re.compile(r"(?<=\d)\s*(?:\{\s*,\s*\}|,\s*\\!)\s*(?=\d)")
_ROW_BREAK = "\ue000"
_DEGREES = re.compile(
    r"\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}|\s*\bdegrees?\b", re.IGNORECASE
)
_CURRENCY = re.compile(
    r"\\\$|\\euro|\\pounds|[€£¥]|\bUSD\b|\bRs\.?(?=\s*\d)|\bdollars?\b|\bcents?\b|\byuan\b|\beuros?\b"
)
_PERCENT = re.compile(r"\\%|\s*\bpercentage\b|\s*\bpercent\b|\s*\bpct\b")
_RELATIONS = (
    (re.compile(r"\\leqslant|\\leq(?![a-z])|<=|=<|\\le(?![a-z])"), r" \\le "),
    (re.compile(r"\\geqslant|\\geq(?![a-z])|>=|\\ge(?![a-z])"), r" \\ge "),
    (re.compile(r"\\neq(?![a-z])|!=|=/=|\\ne(?![a-z])"), r" \\ne "),
    (re.compile(r"\\lt(?![a-z])"), " < "),
    (re.compile(r"\\gt(?![a-z])"), " > "),
)
_REALS = re.compile(r"\\mathbb\s*\{?\s*R\s*\}?|\ball real numbers\b|\\R(?![A-Za-z])", re.IGNORECASE)
_DOLLAR = re.compile(r"\$")
_PLAIN_CONSTANTS = (
    (re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])"), r"\\pi "),
    (re.compile(r"(?<![\\A-Za-z])(?:infinity|inf)(?![A-Za-z])", re.IGNORECASE), r"\\infty "),
)
_EMPTY_GROUP = re.compile(r"\{\s*\}")


def unwrap_commands(text: str, pattern: re.Pattern[str]) -> str:
    """Replace `\\cmd{content}` by ` content ` for every command the pattern matches (nesting kept)."""
    while True:
        match = pattern.search(text)
        if not match:
            return text
        open_index = match.end()
        close = match_brace(text, open_index)
        if close < 0:
            return text[: match.start()] + text[open_index + 1 :]
        inner = text[open_index + 1 : close]
        text = text[: match.start()] + " " + inner + " " + text[close + 1 :]


def _operand_end(text: str, start: int) -> int:
    """End of the operand starting at `start`: a number, a name, or a bracketed group, plus `^{..}`."""
    i = start
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] in "({[":
        closer = {"(": ")", "{": "}", "[": "]"}[text[i]]
        depth, j = 0, i
        while j < len(text):
            depth += text[j] == text[i]
            depth -= text[j] == closer
            j += 1
            if depth == 0:
                break
        i = j
    else:
        match = re.match(r"[-+]?(?:\d+(?:\.\d+)?|\\?[A-Za-z]\w*)", text[i:])
        i += match.end() if match else 0
    if text.startswith("^{", i):
        i = _operand_end(text, i + 1)
    return i


def _operand_start(text: str, end: int) -> int:
    """Start of the operand that ends at `end` (a number, a name, or a bracketed group)."""
    i = end
    while i > 0 and text[i - 1] == " ":
        i -= 1
    if i > 0 and text[i - 1] in ")}]":
        closer = text[i - 1]
        opener = {")": "(", "}": "{", "]": "["}[closer]
        depth, j = 0, i - 1
        while j >= 0:
            depth += text[j] == closer
            depth -= text[j] == opener
            if depth == 0:
                return j
            j -= 1
        return 0
    match = re.search(r"(?:\d+(?:\.\d+)?|\\?[A-Za-z]\w*)$", text[:i])
    return match.start() if match else i


def python_powers(text: str) -> str:
    """`10**10**10` -> `10^{10^{10}}`: Python's `**`, right-associative, as explicit LaTeX powers."""
    for _ in range(50):
        position = text.rfind("**")
        if position < 0:
            return text
        left = _operand_start(text, position)
        right = _operand_end(text, position + 2)
        base, exponent = text[left:position].strip(), text[position + 2 : right].strip()
        if not base or not exponent:
            return text.replace("**", "^")
        text = text[:left] + "{" + base + "}^{" + exponent + "}" + text[right:]
    return text.replace("**", "^")


_CJK_CONNECTORS = (("或", " or "), ("和", " and "), ("与", " and "), ("及", " and "))
_CJK_WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


def clean(answer: str) -> str:
    """The canonical spelling of an extracted answer (still a string; see module doc)."""
    text = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], answer)
    for word, connector in _CJK_CONNECTORS:
        text = text.replace(word, connector)
    text = _CJK_WORDS.sub(" ", text)  # Chinese/Japanese/Korean words are prose or units, never math
    text = _DOUBLE_BACKSLASH.sub(r"\\", text)
    text = text.replace("\\\\", _ROW_BREAK)
    text = re.sub(r"\\$", "", text.rstrip())
    text = re.sub(r"([A-Za-z])'", r"\1^{\\prime}", text)
    text = _CURRENCY.sub(" ", text)
    text = _DOLLAR.sub(" ", text)
    text = re.sub(r"\\[()\[\]]", " ", text)
    text = _SIZERS.sub("", text)
    text = _STYLE.sub("", text)
    text = unwrap_commands(text, _WRAPPER_RE)
    text = _FRAC_ALIASES.sub(r"\\frac", text)
    for pattern, replacement in _FRAC_SHORT:
        text = pattern.sub(replacement, text)
    text = _SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    text = _DIGIT_GROUP.sub("", text)
    text = text.replace("\\!", "")
    text = _SPACING.sub(" ", text)
    text = _DEGREES.sub(" ", text)
    text = _PERCENT.sub("%", text)
    text = _REALS.sub(r"(-\\infty, \\infty)", text)
    for pattern, replacement in _PLAIN_CONSTANTS:  # plain-text "pi", "infinity"
        text = pattern.sub(replacement, text)
    for pattern, replacement in _RELATIONS:
        text = pattern.sub(replacement, text)
    text = text.replace("\\{", "\\{ ").replace("\\}", " \\}")
    text = python_powers(text)
    text = _EMPTY_GROUP.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^(?:[\s,;:]|\.(?!\d))+|[\s.,;:。]+$", "", text)
    return text.strip().replace(_ROW_BREAK, "\\\\")


_UNIT_WORD = re.compile(r"[A-Za-z][A-Za-z.]*")
_MATH_WORDS = {
    "pi", "sin", "cos", "tan", "sec", "csc", "cot", "log", "ln", "exp", "sqrt", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "tanh", "and", "or", "i", "e", "infty", "frac", "cdot", "times", "le", "ge", "ne", "in",
}  # fmt: skip
_TRAILING_UNITS = re.compile(
    r"(?<=[\d}).\s])\s*((?:[A-Za-z][A-Za-z.]*(?:\s*\^\s*\{?[23]\}?)?\s*(?:/|\bper\b)?\s*){1,4})$"
)
_LEADING_WORDS = re.compile(r"^((?:[A-Za-z]{2,}[.:]?\s+){1,4})(?=[-+\\(\[{]?\d)")


def strip_units(item: str) -> str:
    """Drop unit words around one number ("15 cm^2", "125 miles", "Rs 10", "x = 3 dollars").

    Only words of two or more letters go, and never a math word (`pi`, `sin`, ...), so `4t` and
    `2\\pi` keep their meaning. Single letters after a space stay too (`5 x` is an expression).
    """
    match = _TRAILING_UNITS.search(item)
    if match:
        words = _UNIT_WORD.findall(match.group(1))
        if words and all(len(w.strip(".")) >= 2 and w.strip(".").lower() not in _MATH_WORDS for w in words):
            item = item[: match.start(1)].rstrip()
    lead = _LEADING_WORDS.match(item)
    if lead and all(w.lower().strip(".:") not in _MATH_WORDS for w in lead.group(1).split()):
        item = item[lead.end(1) :]
    return item.strip()
