"""Find the final answer in a response: an ordered list of strategies, the first that finds one wins.

Why an ordered list: responses announce their answer in a handful of conventions (Tulu 3's
"Final Answer: The final answer is $X$. I hope it is correct.", `\\boxed{X}`, GSM8K's `#### X`,
"The answer is X", "Answer: X"). A dataset usually uses one of them; the order says which
convention to trust first when several appear, and it is configurable.

Every strategy returns the answer *text* (still LaTeX) plus its name, so verdicts can say
"extracted 5846 (boxed)". Nothing here imports sympy and every scan is linear in the text, so
extraction runs in the main process even on 100k-character responses.

Strategies that guess (`conclusion`, `last_number`) are documented in docs/math.md; the loose one,
`last_number`, is never in the default order: a loose fallback keeps wrong data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Default order for responses. `bare` (the whole response is a short answer) and `conclusion`
# (the single answer stated in the closing sentence) come after every explicit marker.
DEFAULT_ORDER: tuple[str, ...] = ("final_answer", "boxed", "gsm8k", "answer_is", "answer_colon", "bare", "conclusion")
# A gold answer that names no marker is itself the answer.
GOLD_ORDER: tuple[str, ...] = ("final_answer", "boxed", "gsm8k", "answer_is", "answer_colon", "whole")
MAX_MARKERS_TRIED = 20  # the last 20 "Answer:"-style markers are read; earlier ones are drafts
LABELS = {
    "final_answer": "final answer",
    "boxed": "boxed",
    "gsm8k": "####",
    "answer_is": "answer is",
    "answer_colon": "Answer:",
    "bare": "bare answer",
    "conclusion": "closing sentence",
    "last_number": "last number",
    "whole": "whole text",
}


@dataclass(frozen=True, slots=True)
class Extraction:
    """The answer text found in a larger text, and the strategy that found it."""

    text: str
    method: str


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    inner: str


# ---------------------------------------------------------------- math spans and boxes

_MATH_OPENERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def math_spans(text: str) -> list[Span]:
    """Every `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]` span, left to right (escaped `\\$` skipped).

    Linear: once a closer is not found after some position it is not searched for again, so
    thousands of unclosed `\\(` cannot make this quadratic.
    """
    spans: list[Span] = []
    exhausted: set[str] = set()
    i, n = 0, len(text)
    while i < n:
        for opener, closer in _MATH_OPENERS:
            if closer in exhausted or not text.startswith(opener, i) or _escaped_dollar(text, i, opener):
                continue
            close = _find_closer(text, i + len(opener), closer)
            if close < 0:
                exhausted.add(closer)
                continue
            spans.append(Span(i, close + len(closer), text[i + len(opener) : close]))
            i = close + len(closer)
            break
        else:
            i += 1
    return spans


def _escaped_dollar(text: str, i: int, opener: str) -> bool:
    return opener.startswith("$") and i > 0 and text[i - 1] == "\\"


def _find_closer(text: str, start: int, closer: str) -> int:
    j = start
    while True:
        j = text.find(closer, j)
        if j < 0:
            return -1
        if closer.startswith("$") and text[j - 1] == "\\":
            j += 1
            continue
        # `$a$$b$` is two spans; `$...$$` inside a single span is not a closer of `$`.
        return j


def match_brace(text: str, open_index: int) -> int:
    """Index of the `}` closing the `{` at open_index (escaped braces skipped), or -1."""
    depth = 0
    i, n = open_index, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)\b\s*")


def boxes(text: str) -> list[Span]:
    """Every `\\boxed{..}` / `\\fbox{..}` (nested braces; `\\boxed 5` takes one token).

    An unclosed `\\boxed{` (a truncated response) takes the rest of the text: its content is all
    the response says about the answer, and grading will reject it if it is garbage.
    """
    found: list[Span] = []
    position = 0
    while True:
        match = _BOX_COMMAND.search(text, position)
        if not match:
            return found
        start, body = match.start(), match.end()
        if body < len(text) and text[body] == "{":
            close = match_brace(text, body)
            if close < 0:
                found.append(Span(start, len(text), text[body + 1 :].rstrip().rstrip("$").rstrip()))
                return found
            found.append(Span(start, close + 1, text[body + 1 : close]))
            position = close + 1
        else:
            token = re.match(r"[^\s$]+", text[body:])
            if token:
                found.append(Span(start, body + token.end(), token.group(0)))
                position = body + token.end()
            else:
                position = body


# ---------------------------------------------------------------- joining several answers

_CONNECTOR_WORDS = {"and", "or", "&"}
_SEPARATOR_NOISE = re.compile(
    r"\\[()\[\]]|\$|\\q?quad|\\[,;:! ]|~|\\\\|\\newline|\\hfill|\\text(?:bf|rm|normal)?\b|\\mbox\b|[{}]"
)
_TRAILING_LABEL = re.compile(r"(?:^|[\s,;(])((?:\\?[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?'?)\s*=\s*$")


def _label_before(separator: str) -> tuple[str, str | None]:
    """Split `... and y_2 =` into (`... and`, `y_2`): the next answer is the value of a named quantity."""
    match = _TRAILING_LABEL.search(separator)
    if not match:
        return separator, None
    return separator[: match.start(1)], match.group(1)


def joins(separator: str) -> bool:
    """Whether the text between two answers makes them one multi-part answer.

    Only punctuation (`, `), nothing, or a short phrase that ends in a connector ("and", "or",
    "for part (a) and") joins; prose that does not end in a connector ("no no no", "thus but")
    means the earlier answer was an intermediate result.
    """
    cleaned = _SEPARATOR_NOISE.sub(" ", separator).strip()
    if not re.search(r"[A-Za-z0-9]", cleaned):
        return True
    words = cleaned.replace(",", " , ").replace(";", " ; ").split()
    if len(words) > 5:
        return False
    return words[-1].lower().strip(".") in _CONNECTOR_WORDS | {",", ";"}


def last_group(text: str, spans: list[Span], attach_labels: bool) -> list[Span | tuple[str, Span]]:
    """The last run of spans joined by connector separators (see `joins`)."""
    group: list[tuple[str | None, Span]] = []
    index = len(spans) - 1
    while index >= 0:
        span = spans[index]
        if group:
            separator = text[span.end : group[0][1].start]
            rest, label = _label_before(separator) if attach_labels else (separator, None)
            if not joins(rest):
                break
            group[0] = (label, group[0][1])
        group.insert(0, (None, span))
        index -= 1
    if attach_labels and len(group) > 1:
        before = text[max(0, group[0][1].start - 40) : group[0][1].start]
        group[0] = (_label_before(before)[1], group[0][1])
        if all(label for label, _ in group):
            return [(label, span) for label, span in group]  # type: ignore[misc]
    return [span for _, span in group]


def join_answers(text: str, spans: list[Span], attach_labels: bool = False) -> str:
    """The answer text of the last joined group: parts separated by `, ` (labels kept as `y = ...`)."""
    parts = []
    for item in last_group(text, spans, attach_labels):
        if isinstance(item, tuple):
            label, span = item
            parts.append(f"{label} = {span.inner.strip()}")
        else:
            parts.append(item.inner.strip())
    return ", ".join(part for part in parts if part)


# ---------------------------------------------------------------- segments after a textual marker

_HOPE = re.compile(r"I hope (?:it|this) is correct", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|。|！|？|।")
_CLOSING_PUNCTUATION = " .。!！।\n"
_LEADING_FILLER = re.compile(
    r"^\s*(?:\*\*|:|：|=|\s)*(?:(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*)?(?:therefore|thus|so)?[,\s]*",
    re.IGNORECASE,
)


def answer_in_segment(segment: str) -> str | None:
    """The answer inside the text that follows a marker ("The final answer is ...").

    Priority: a `\\boxed{}` inside it; else "... is X" (the part after the last " is "); else its
    math spans (the last joined run); else the plain text up to the end of the sentence.
    """
    segment = _HOPE.split(segment, maxsplit=1)[0]
    segment = _LEADING_FILLER.sub("", segment, count=1).lstrip()
    spans = math_spans(segment)
    first_end = _first_sentence_end(segment, spans + boxes(segment))
    segment = segment[:first_end]
    inner_boxes = boxes(segment)
    if inner_boxes:
        return join_answers(segment, inner_boxes) or None
    spans = [span for span in spans if span.end <= first_end]
    after_is = _after_last_is(segment, spans)
    if after_is is not None:
        return answer_in_segment(after_is)
    if spans:
        return join_answers(segment, spans) or None
    plain = segment.strip().strip("*").strip()
    plain = re.sub(r"[.。;,:]+$", "", plain).strip()
    numbers = _NUMBER_TOKEN.findall(plain)
    if len(_WORD.findall(plain)) >= 3:  # a sentence: only its single number is an answer
        return numbers[0] if len(numbers) == 1 else None
    if numbers or len(plain.split()) == 1:  # "12,000,023", "3 hours", "Evelyn"
        return plain or None
    return None  # words without a number ("a positive number") are prose, not an answer


def _first_sentence_end(segment: str, spans: list[Span]) -> int:
    """Index where the first sentence ends, ignoring periods inside math spans."""
    position = 0
    while True:
        match = _SENTENCE_END.search(segment, position)
        if not match:
            return len(segment)
        inside = next((span for span in spans if span.start <= match.start() < span.end), None)
        if inside is None:
            if match.start() == 0:
                position = match.end()
                continue
            return match.start()
        position = inside.end


_IS = re.compile(r"\s(?:is|are|equals|was|will be|would be|est|ist|es)\s*:?\s+", re.IGNORECASE)


def _after_last_is(segment: str, spans: list[Span]) -> str | None:
    """Text after the last " is " that is outside math, when something follows it."""
    last = None
    for match in _IS.finditer(segment):
        if not any(span.start <= match.start() < span.end for span in spans):
            last = match
    if last is None:
        return None
    rest = segment[last.end() :]
    return rest if rest.strip() else None


# ---------------------------------------------------------------- strategies

_FINAL_ANSWER = re.compile(
    r"final\s+answer\s*(?:\*\*)?\s*(?:(?:is|would be|will be)\b)?\s*[:：]?\s*(?:\*\*)?", re.IGNORECASE
)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?:\banswer\s+(?:is|would\s+be|should\s+be)\b\s*(?:therefore\s*)?:?|答案是|答案为|(?:la\s+)?réponse\s+est|die\s+antwort\s+ist|la\s+respuesta\s+es)",
    re.IGNORECASE,
)
_ANSWER_COLON = re.compile(
    r"(?:\b(?:answer|réponse|antwort|respuesta)\b\s*(?:\*\*)?\s*[:：]|答案\s*[:：]|\banswer\b(?=\s*(?:\$|\\\(|\\\[)))",
    re.IGNORECASE,
)


def _boxed(text: str) -> str | None:
    found = boxes(text)
    if not found:
        return None
    return join_answers(text, found, attach_labels=True) or None


def _gsm8k(text: str) -> str | None:
    matches = list(_GSM8K.finditer(text))
    if not matches:
        return None
    return answer_in_segment(matches[-1].group(1)) or None


def _marker(pattern: re.Pattern[str]):
    """A strategy reading the answer that follows the last match of `pattern` that has one."""

    def strategy(text: str) -> str | None:
        matches = list(pattern.finditer(text))
        for match in reversed(matches[-MAX_MARKERS_TRIED:]):
            found = answer_in_segment(text[match.end() : match.end() + 2000])
            if found:
                return found
        return None

    return strategy


_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def _bare(text: str) -> str | None:
    """The whole response when it is only a short answer ("18", "$\\frac{1}{2}$", "x = 3 cm")."""
    stripped = text.strip()
    if not stripped or len(stripped) > 120 or "\n" in stripped or re.search(r"[。，！？]|\.\s", stripped):
        return None
    words = re.findall(r"[^\W\d_]{2,}", _LATEX_COMMAND.sub(" ", stripped))
    if len(words) > 2:
        return None
    return _strip_delimiters(stripped)


def _whole(text: str) -> str | None:
    """The whole text is the answer (a gold answer, or a dataset of bare answers)."""
    stripped = text.strip()
    if not stripped:
        return None
    spans = math_spans(stripped)
    if spans and _WORD.search(stripped[: spans[0].start]):
        # "Special matrix: $...$": prose introduces the math, the math is the answer.
        return join_answers(stripped, spans) or None
    return _strip_delimiters(stripped)


def _strip_delimiters(text: str) -> str:
    text = text.strip()
    text = re.sub(r"[.。]+$", "", text).strip()
    for opener, closer in _MATH_OPENERS:
        if text.startswith(opener) and text.endswith(closer) and len(text) >= len(opener) + len(closer):
            inner = text[len(opener) : len(text) - len(closer)]
            if opener == "$" and "$" in inner.replace("\\$", ""):
                continue
            return inner.strip()
    return text


_CHAT_TAIL = re.compile(r"(<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>|<\|eot_id\|>|</s>).*$", re.DOTALL)
_COURTESY = re.compile(
    r"(?:I hope (?:it|this) (?:is correct|helps)|let me know|feel free|if you have any (?:other |further )?questions)[^\n]*$",
    re.IGNORECASE,
)
# Words that open a concluding clause, in the languages of the anchors' test suites.
_CUE_WORDS = (
    r"therefore|thus|so|hence|finally|consequently|in conclusion|in summary|overall|as a result|"
    r"we (?:find|get|have|obtain|conclude)|this (?:gives|means)|which gives|the (?:answer|solution|result)|"
    r"donc|ainsi|par conséquent|daher|somit|por lo tanto|entonces"
)
_CUE_SYMBOLS = r"因此|所以|综上|结论|لذا|إذن|इसलिए|अतः"
_CONCLUSION_CUE = re.compile(rf"(?:^|(?<=[\s,;:，、：(*]))(?:{_CUE_WORDS})\b|{_CUE_SYMBOLS}", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|isn't|aren't|wasn't|n't)\b|不是|没有|不", re.IGNORECASE)
_BEFORE_ANSWER = re.compile(r"(?:\b(?:is|are|be|equals|gives|get|obtain)|=|:|：)\s*$", re.IGNORECASE)
_NUMBER_TOKEN = re.compile(r"(?<![A-Za-z0-9_.])[-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_VALUE_AFTER = re.compile(r"(?:=|\s(?:is|are|equals|est|ist|es)\s+(?:de\s+)?|是|为|هو|هي|है|हैं)\s*", re.IGNORECASE)


def _closing_clause(text: str) -> tuple[str, bool]:
    """The closing sentence (from its last conclusion cue, if any) and whether a cue opened it."""
    body = _CHAT_TAIL.sub("", text[-4000:]).rstrip()
    while True:
        trimmed = _HOPE.sub("", _COURTESY.sub("", body).rstrip()).rstrip()
        if trimmed == body:
            break
        body = trimmed
    sentence = _last_sentence(body)
    spans = math_spans(sentence)
    cues = [m for m in _CONCLUSION_CUE.finditer(sentence) if not any(s.start <= m.start() < s.end for s in spans)]
    for cue in reversed(cues):
        clause = sentence[cue.start() :]
        if re.search(r"\d", clause) or any(span.start >= cue.start() for span in spans):
            return clause, True
    return sentence, False


def _conclusion(text: str) -> str | None:
    """The single answer stated in the closing sentence, when the sentence concludes.

    The closing sentence (chat-template tails and courtesy lines dropped; from its last conclusion
    cue such as "Therefore", "So", "因此", if it has one) must not be negated and must hold one
    clear candidate, tried in this order:
    - math: its only math span (with a cue), or the math span right after "is/are/=/:";
    - a bold `**...**` span holding exactly one number;
    - the number right after the last "=" or "is" ("... = 13 birds", "... is 2/3");
    - with a cue, its only number.
    Anything less certain finds nothing: a loose guess keeps wrong data.
    """
    clause, cue = _closing_clause(text)
    if not clause or _NEGATION.search(_without_math(clause)):
        return None
    spans = math_spans(clause)
    if spans:
        last = spans[-1]
        after = clause[last.end :].strip(" .。!")
        follows_is = bool(_BEFORE_ANSWER.search(clause[: last.start])) and not re.search(r"[A-Za-z0-9]", after)
        if follows_is or (len(spans) == 1 and cue):
            return last.inner.strip() or None
        return None
    bold_numbers = [_NUMBER_TOKEN.findall(m.group(1)) for m in _BOLD.finditer(clause)]
    bold_numbers = [found for found in bold_numbers if found]
    if bold_numbers and len(bold_numbers[-1]) == 1:
        return bold_numbers[-1][0]
    values = list(_VALUE_AFTER.finditer(clause))
    if values:
        number = _NUMBER_TOKEN.match(clause[values[-1].end() :].lstrip("*"))
        if number:
            return number.group(0)
    numbers = _NUMBER_TOKEN.findall(clause)
    if cue and len(numbers) == 1:
        return numbers[0]
    return None


def _without_math(sentence: str) -> str:
    for span in reversed(math_spans(sentence)):
        sentence = sentence[: span.start] + " " + sentence[span.end :]
    return sentence


def _last_sentence(body: str) -> str:
    """The closing sentence; a displayed formula (`$$..$$`, `\\[..\\]`) also ends a sentence."""
    spans = math_spans(body)
    end = len(body.rstrip(_CLOSING_PUNCTUATION))
    boundary = 0
    for match in _SENTENCE_END.finditer(body, 0, end):
        if not any(span.start <= match.start() < span.end for span in spans):
            boundary = max(boundary, match.end())
    for span in spans:
        if (
            span.end < end
            and body[span.start : span.start + 2] in ("$$", "\\[")
            and re.match(r"\s*[A-Z]", body[span.end :])
        ):
            boundary = max(boundary, span.end)
    return body[boundary:end].strip()


def _last_number(text: str) -> str | None:
    numbers = _NUMBER_TOKEN.findall(_CHAT_TAIL.sub("", text))
    return numbers[-1] if numbers else None


STRATEGIES = {
    "final_answer": _marker(_FINAL_ANSWER),
    "boxed": _boxed,
    "gsm8k": _gsm8k,
    "answer_is": _marker(_ANSWER_IS),
    "answer_colon": _marker(_ANSWER_COLON),
    "bare": _bare,
    "conclusion": _conclusion,
    "last_number": _last_number,
    "whole": _whole,
}


_REASONING_END = "</think>"


def visible_part(text: str) -> str:
    """The text after the last `</think>`: a reasoning trace is not the response's answer.

    A model may write "the final answer is 13" while thinking and then box 14; only what it
    says after its reasoning counts. When nothing follows the reasoning, the whole text is used.
    """
    end = text.rfind(_REASONING_END)
    if end < 0:
        return text
    after = text[end + len(_REASONING_END) :]
    return after if after.strip() else text


def extract(text: str, order: tuple[str, ...] | list[str]) -> Extraction | None:
    """The answer found by the first strategy in `order` that finds one, or None."""
    text = visible_part(text)
    for name in order:
        found = STRATEGIES[name](text)
        if found is not None and found.strip():
            return Extraction(found.strip(), name)
    return None
