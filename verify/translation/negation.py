"""Counting negation cues, to catch the flipped negation that surface metrics reward.

chrF scores "Do not delete the file" against "Delete the file" higher than against a faithful
paraphrase; a flipped negation is the most damaging error a translation can make and the one
character n-grams see least. The source and its back-translation are in the same language,
so counting that language's negation cues in both and comparing the counts is a cheap,
deterministic test. Lexicons exist for the languages below; others are not checked.

"without" (ohne, sans, sin, senza, sem) is deliberately not a cue: like the prefixes un- and
-less, which are not counted either, it mostly rephrases a negative adjective ("without
supervision" for "unattended"), and counting it rejected faithful paraphrases.
"""

from __future__ import annotations

import re

WORD_CUES: dict[str, frozenset[str]] = {
    "en": frozenset({"not", "no", "never", "nothing", "nobody", "none", "nowhere", "neither", "nor", "cannot",
                     "can't", "won't", "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't",
                     "weren't", "shouldn't", "mustn't", "couldn't", "wouldn't", "haven't", "hasn't", "hadn't",
                     "needn't", "ain't"}),
    "de": frozenset({"nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "nichts",
                     "niemand", "nirgends", "weder"}),
    "fr": frozenset({"ne", "n'", "non", "ni", "jamais", "rien", "aucun", "aucune"}),
    "es": frozenset({"no", "nunca", "jamás", "nada", "nadie", "ningún", "ninguno", "ninguna", "ni", "tampoco"}),
    "it": frozenset({"non", "mai", "niente", "nulla", "nessuno", "nessuna", "né"}),
    "pt": frozenset({"não", "nunca", "jamais", "nada", "ninguém", "nenhum", "nenhuma", "nem"}),
}  # fmt: skip
# Negative-concord words: they negate a clause on their own ("Nunca lo hice") but only
# reinforce another cue in it (French "ne ... jamais", Spanish "no ... nada" are one negation).
CONCORD: dict[str, frozenset[str]] = {
    "fr": frozenset({"jamais", "rien", "aucun", "aucune", "ni"}),
    "es": frozenset({"nunca", "jamás", "nada", "nadie", "ningún", "ninguno", "ninguna", "tampoco"}),
    "it": frozenset({"mai", "niente", "nulla", "nessuno", "nessuna", "né"}),
    "pt": frozenset({"nunca", "jamais", "nada", "ninguém", "nenhum", "nenhuma", "nem"}),
}
# Chinese and Japanese negate with characters inside words; these lists name the negating
# characters and the common words in which they do not negate.
CHAR_CUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "zh": ("不没沒别別无無未非勿莫", ("不同", "不过", "不過", "不断", "不斷", "不错", "不錯", "不仅", "不僅", "非常", "无论",
                                "無論", "并非常", "莫名", "不久", "差不多", "不如", "未来", "未來", "别人", "別人", "特别",
                                "特別", "区别", "區別", "分别", "分別", "无线", "無線", "非洲", "是非", "除非")),
}  # fmt: skip
JA_NEGATION = re.compile(r"ない|ません|なかった|ず[にの]?|ぬ|無い|禁止|不[要可能]|未[満定]")
TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|n['’]", re.U)
CLAUSE_BREAK = re.compile(r"[.;:!?,\n]")


def supported(lang: str) -> bool:
    return lang in WORD_CUES or lang in CHAR_CUES or lang == "ja"


def count(text: str, lang: str) -> int | None:
    """How many negations `text` holds; None when there is no lexicon for `lang`."""
    if lang in CHAR_CUES:
        cues, exceptions = CHAR_CUES[lang]
        masked = text
        for word in exceptions:
            masked = masked.replace(word, "□" * len(word))
        return sum(masked.count(cue) for cue in cues)
    if lang == "ja":
        return len(JA_NEGATION.findall(text))
    cues = WORD_CUES.get(lang)
    if cues is None:
        return None
    concord = CONCORD.get(lang, frozenset())
    total = 0
    for clause in CLAUSE_BREAK.split(text.lower().replace("’", "'")):
        plain, concord_seen = 0, False
        for token in TOKEN.findall(clause):
            word = "n'" if lang == "fr" and token.startswith("n'") else token
            if lang == "en" and word.endswith("n't"):
                word = "not"
            if word in concord:
                concord_seen = True
            elif word in cues:
                plain += 1
        total += plain if plain or not concord_seen else 1
    return total
