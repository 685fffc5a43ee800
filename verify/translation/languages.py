"""Language codes: normalising what records say, names for prompts, codes for seq2seq models.

Records name languages loosely (`zh-CN`, `zh_Hans`, `en-US`, `EN`); detectors answer in their
own dialects (langdetect's `zh-cn`, lingua's `ZH`). Everything inside the verifier compares
bare ISO 639-1 codes, so every code passes through `normalize` once, at the edge.
"""

from __future__ import annotations

# ISO 639-1 code -> English name (used in prompts and messages). The union of what langdetect
# and lingua can identify; a record naming any other language is a spec error, because no
# language check could be made for it.
NAMES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian", "bg": "Bulgarian",
    "bn": "Bengali", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "ga": "Irish", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "kn": "Kannada", "ko": "Korean",
    "la": "Latin", "lg": "Ganda", "lt": "Lithuanian", "lv": "Latvian", "mi": "Maori",
    "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay",
    "nb": "Norwegian Bokmal", "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk",
    "no": "Norwegian", "pa": "Punjabi", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "st": "Sotho", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tn": "Tswana", "tr": "Turkish",
    "ts": "Tsonga", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "xh": "Xhosa",
    "yo": "Yoruba", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip

# Aliases seen in data and detector output that are not plain ISO 639-1 primary subtags.
ALIASES: dict[str, str] = {"iw": "he", "in": "id", "jw": "jv", "fil": "tl", "zho": "zh", "eng": "en", "cmn": "zh"}

# Characters per English character (whitespace excluded) in faithful translations of the same
# text. Measured on the faithful pairs of tests/data/translation (zh, ja, de, fr, es, ru) and
# rounded; the others are typical values for their script and default to 1.0 when unknown.
# The length-ratio invariant only uses these with a wide tolerance, so rough values suffice.
CHAR_DENSITY: dict[str, float] = {
    "en": 1.0, "de": 1.17, "fr": 1.17, "es": 1.12, "it": 1.12, "pt": 1.1, "nl": 1.15, "ru": 1.08,
    "uk": 1.05, "pl": 1.1, "cs": 1.0, "sv": 1.02, "da": 1.05, "no": 1.02, "fi": 1.1, "tr": 1.05,
    "vi": 1.05, "id": 1.15, "el": 1.15, "ar": 0.88, "he": 0.8, "hi": 1.0, "th": 1.0,
    "zh": 0.4, "ja": 0.6, "ko": 0.55,
}  # fmt: skip

# ISO 639-1 -> FLORES-200 codes used by NLLB tokenizers.
NLLB_CODES: dict[str, str] = {
    "ar": "arb_Arab", "bg": "bul_Cyrl", "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "fa": "pes_Arab", "fi": "fin_Latn",
    "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hu": "hun_Latn", "id": "ind_Latn",
    "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn", "no": "nob_Latn",
    "nb": "nob_Latn", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "sk": "slk_Latn", "sv": "swe_Latn", "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl",
    "vi": "vie_Latn", "zh": "zho_Hans",
}  # fmt: skip


def normalize(code: str) -> str | None:
    """The bare ISO 639-1 code for `code` (`zh-CN` -> `zh`, `en_US` -> `en`), None if unknown."""
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    primary = ALIASES.get(primary, primary)
    return primary if primary in NAMES else None


def name(code: str) -> str:
    """The English name of a normalised code, for prompts and messages."""
    return NAMES.get(code, code)


def density(code: str) -> float:
    return CHAR_DENSITY.get(code, 1.0)
