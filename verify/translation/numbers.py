"""Numbers a translation must keep, compared by value rather than by spelling.

Translators legitimately respell numbers: `1,000.5` becomes `1.000,5` in German, `1 000` in
French, `1.5 million` becomes `150万` in Chinese, and small numbers are often written out
(`3` -> `三`, `drei`). So each number token yields a set of candidate values (both decimal
conventions, with and without a following magnitude word), and two tokens match when their
sets meet. Digit tokens are *required*: each must be matched on the other side. Spelled-out
numbers (CJK numerals, number words) are *optional*: they may satisfy a required token but
are never required themselves, since words like 一 or "one" are not always numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

DIGIT_TOKEN = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d.,])|\d+(?:[.,'’]\d+)*")
MAGNITUDE_AFTER = re.compile(
    r"\s?(?:([万萬亿億千百兆])|(mil millones|thousand|million|billion|trillion|Tausend|Millionen|Million"
    r"|Milliarden|Milliarde|mille|millions|million|milliards|milliard|millones|millón|miles|mil"
    r"|тыс\.|тысячи|тысяча|тысяч|тыс|млн|млрд)(?![^\W\d_]))",
    re.I,
)
MAGNITUDES: dict[str, int] = {
    "万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8, "千": 10**3, "百": 100, "兆": 10**12,
    "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    "tausend": 10**3, "millionen": 10**6, "milliarde": 10**9, "milliarden": 10**9,
    "mille": 10**3, "millions": 10**6, "milliard": 10**9, "milliards": 10**9,
    "mil": 10**3, "miles": 10**3, "millón": 10**6, "millones": 10**6, "mil millones": 10**9,
    "тыс": 10**3, "тыс.": 10**3, "тысяча": 10**3, "тысячи": 10**3, "тысяч": 10**3,
    "млн": 10**6, "млрд": 10**9,
}  # fmt: skip
CJK_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CJK_UNITS = {"十": 10, "百": 100, "千": 1000}
CJK_BIG = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
CJK_NUMERAL = re.compile(r"[零〇一二两兩三四五六七八九十百千万萬亿億]+")
# Small numbers written as words, per language (optional tokens only).
NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "hundred": 100,
           "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "once": 1, "twice": 2, "dozen": 12},
    "de": {"null": 0, "eins": 1, "ein": 1, "eine": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4,
           "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12,
           "zwanzig": 20, "hundert": 100, "erste": 1, "ersten": 1, "zweite": 2, "dritte": 3,
           "einmal": 1, "zweimal": 2},
    "fr": {"zéro": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
           "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "vingt": 20, "cent": 100,
           "premier": 1, "première": 1, "deuxième": 2, "troisième": 3},
    "es": {"cero": 0, "uno": 1, "una": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
           "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
           "veinte": 20, "cien": 100, "primero": 1, "primera": 1, "segundo": 2, "tercero": 3},
    "it": {"zero": 0, "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6,
           "sette": 7, "otto": 8, "nove": 9, "dieci": 10, "undici": 11, "dodici": 12, "venti": 20, "cento": 100},
    "pt": {"zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4, "cinco": 5,
           "seis": 6, "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "vinte": 20, "cem": 100},
    "ru": {"ноль": 0, "один": 1, "одна": 1, "одно": 1, "два": 2, "две": 2, "три": 3, "четыре": 4,
           "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "двенадцать": 12,
           "двадцать": 20, "сто": 100, "первый": 1, "второй": 2, "третий": 3},
}  # fmt: skip
WORD = re.compile(r"[^\W\d_]+", re.U)
# "3 pm" is "15 Uhr", "15 h", "15:00" in most languages: the 24-hour value is a candidate too.
AFTERNOON = re.compile(r"\s?(?:pm|p\.m\.)(?![^\W\d_])", re.I)


@dataclass(frozen=True)
class NumberToken:
    """A number as written (`text`) and every value it may denote."""

    text: str
    values: frozenset[str]
    required: bool


def _canonical(value: Decimal) -> str:
    normalized = value.normalize()
    return format(normalized, "f") if normalized == normalized.to_integral() else str(normalized)


def _grouped_ok(groups: list[str]) -> bool:
    return all(len(group) == 3 for group in groups[1:])


def digit_values(token: str) -> set[Decimal]:
    """Every value a digit token may mean under either decimal convention."""
    plain = re.sub(r"[ \u00a0\u202f'’]", "", token)
    if plain.isdigit():
        return {Decimal(plain)}
    values: set[Decimal] = set()
    for decimal_mark, group_mark in ((".", ","), (",", ".")):
        if plain.count(decimal_mark) > 1:
            continue
        integer, _, fraction = plain.partition(decimal_mark)
        groups = integer.split(group_mark)
        if len(groups) > 1 and not _grouped_ok(groups):
            continue
        try:
            values.add(Decimal("".join(groups) + ("." + fraction if fraction else "")))
        except InvalidOperation:
            continue
    return values


def cjk_value(numeral: str) -> int | None:
    """The value of a Chinese/Japanese numeral such as 三, 十二, 两千五百, 三万; None if malformed."""
    if len(numeral) == 1 and numeral in CJK_UNITS | CJK_BIG:
        return None  # a bare 百/千/万 is almost always part of a word, not a number
    total, section, digit = 0, 0, None
    for char in numeral:
        if char in CJK_DIGITS:
            if digit is not None:  # digit-by-digit spelling: 二〇二四
                digit = digit * 10 + CJK_DIGITS[char]
            else:
                digit = CJK_DIGITS[char]
        elif char in CJK_UNITS:
            section += (digit if digit is not None else 1) * CJK_UNITS[char]
            digit = None
        elif char in CJK_BIG:
            total += (section + (digit or 0)) * CJK_BIG[char]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def extract(text: str, lang: str) -> list[NumberToken]:
    """Number tokens of a prose text in language `lang` (digits required, words optional)."""
    text = unicodedata.normalize("NFKC", text)
    tokens: list[NumberToken] = []
    for match in DIGIT_TOKEN.finditer(text):
        values = digit_values(match.group(0))
        if not values:
            values = set()
            literal = match.group(0)
        else:
            literal = None
        magnitude = MAGNITUDE_AFTER.match(text, match.end())
        if magnitude and values:
            factor = MAGNITUDES[(magnitude.group(1) or magnitude.group(2)).lower()]
            if factor:
                values |= {value * factor for value in values}
        if AFTERNOON.match(text, match.end()):
            values |= {value + 12 for value in values if 1 <= value < 12}
        canon = {_canonical(value) for value in values} if values else {literal or match.group(0)}
        tokens.append(NumberToken(match.group(0), frozenset(canon), required=True))
    for match in CJK_NUMERAL.finditer(text):
        value = cjk_value(match.group(0))
        if value is not None:
            tokens.append(NumberToken(match.group(0), frozenset({str(value)}), required=False))
    words = NUMBER_WORDS.get(lang, {})
    for match in WORD.finditer(text):
        value = words.get(match.group(0).lower())
        if value is not None:
            tokens.append(NumberToken(match.group(0), frozenset({str(value)}), required=False))
    return tokens


def unmatched(required_from: list[NumberToken], other: list[NumberToken]) -> list[str]:
    """Required tokens of one side with no token on the other side sharing a value."""
    available: set[str] = set()
    for token in other:
        available |= token.values
    missing: list[str] = []
    for token in required_from:
        if token.required and not (token.values & available) and token.text not in missing:
            missing.append(token.text)
    return missing


def compare(source: str, source_lang: str, translation: str, target_lang: str) -> tuple[list[str], list[str]]:
    """(numbers of the source missing from the translation, numbers the translation added)."""
    source_tokens = extract(source, source_lang)
    translation_tokens = extract(translation, target_lang)
    return unmatched(source_tokens, translation_tokens), unmatched(translation_tokens, source_tokens)
