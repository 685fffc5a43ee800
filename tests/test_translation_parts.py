"""Building blocks of the translation check: text parts, numbers, negation, language ID, invariants."""

from __future__ import annotations

import pytest

from verify.translation import invariants, languages, negation, numbers, textparts
from verify.translation.langid import LanguageIdentifier


def test_language_codes_normalise_regional_and_alias_forms():
    assert languages.normalize("zh-CN") == "zh"
    assert languages.normalize("zh_Hant") == "zh"
    assert languages.normalize("EN-us") == "en"
    assert languages.normalize("iw") == "he"
    assert languages.normalize("xx") is None


def test_split_separates_protected_spans_from_prose():
    text = (
        "Run `make test` or see https://example.com/docs/(v2)). Mail ops@example.org, {user} has %d items "
        "and {{ count }} <b>new</b> ${HOME} $9\\pi$.\n\n```python\nprint('hi')\n```\n"
    )
    parts = textparts.split(text)
    assert parts.inline_code == ["make test"]
    assert parts.urls == ["https://example.com/docs/(v2)"]
    assert parts.emails == ["ops@example.org"]
    assert parts.placeholders == ["{user}", "%d", "{{ count }}", "${HOME}"]
    assert parts.html_tags == ["<b>", "</b>"]
    assert [block.text() for block in parts.code_blocks] == ["python\nprint('hi')"]
    assert "print" not in parts.prose and "example" not in parts.prose and "pi" not in parts.prose
    assert "9" in parts.prose_with_math


def test_url_stops_at_chinese_punctuation_and_percent_is_not_a_placeholder():
    parts = textparts.split("访问 https://example.com/a，然后下载。增长了 50% of 20%。")
    assert parts.urls == ["https://example.com/a"]
    assert parts.placeholders == []


def test_unclosed_fence_runs_to_the_end_and_is_marked():
    blocks, outside = textparts.split_fences("Intro\n```bash\npip install x\n")
    assert [(block.info, block.body, block.closed) for block in blocks] == [("bash", "pip install x\n", False)]
    assert outside.strip() == "Intro"


def test_closing_fence_indented_four_spaces_does_not_close():
    blocks, outside = textparts.split_fences("```\nx\n    ```\n\t```\nProse")
    assert [(block.body, block.closed) for block in blocks] == [("x\n    ```\n\t```\nProse", False)]
    assert outside == ""


def test_fences_of_crlf_text_are_found_and_bodies_kept_as_written():
    blocks, outside = textparts.split_fences("Intro\r\n~~~ py `x`\r\n  a = 1\r\n~~~\r\nEnd")
    assert [(block.info, block.body, block.closed) for block in blocks] == [("py `x`", "  a = 1\r", True)]
    assert outside == "Intro\r\n\nEnd"  # the block, its closing "\r" included, became one empty line


@pytest.mark.parametrize(
    ("source", "source_lang", "translation", "target_lang"),
    [
        ("sold 1,250 units, up 18.5%", "en", "verkaufte 1.250 Einheiten, plus 18,5 %", "de"),
        ("sold 1,250 units", "en", "a vendu 1 250 unités", "fr"),
        ("about 1.5 million people", "en", "约150万人", "zh"),
        ("3 apples", "en", "三个苹果", "zh"),
        ("two apples and 3 pears", "en", "2 Äpfel und drei Birnen", "de"),
        ("at 3 pm", "en", "um 15 Uhr", "de"),
        ("１２ items", "en", "12 Artikel", "de"),
        ("in 2024", "en", "二〇二四年", "zh"),
    ],
)
def test_numbers_match_across_spellings(source, source_lang, translation, target_lang):
    assert numbers.compare(source, source_lang, translation, target_lang) == ([], [])


def test_numbers_report_what_changed():
    assert numbers.compare("bake 25 minutes at 180 °C", "en", "35 Minuten bei 180 °C backen", "de") == (["25"], ["35"])
    assert numbers.compare("1.5 kg", "en", "15 kg", "de") == (["1.5"], ["15"])


@pytest.mark.parametrize(
    ("text", "lang", "count"),
    [
        ("Do not delete it, and don't ever run it.", "en", 2),
        ("Never leave children without supervision.", "en", 1),
        ("Aucun fichier n'est supprimé.", "fr", 1),
        ("No hay nada.", "es", 1),
        ("Nunca lo hice.", "es", 1),
        ("Nicht löschen, keine Sorge.", "de", 2),
        ("请不要删除这个文件，不同的版本。", "zh", 1),
        ("削除しないでください。", "ja", 1),
    ],
)
def test_negation_counts(text, lang, count):
    assert negation.count(text, lang) == count


def test_negation_has_no_lexicon_for_unlisted_languages():
    assert negation.count("Не удаляйте файл", "ru") is None
    assert not negation.supported("ru")


def test_langid_script_rules_fix_short_chinese_that_langdetect_calls_korean():
    identifier = LanguageIdentifier()
    assert identifier.detect("保存更改").lang == "zh"
    assert identifier.detect("ファイルが見つかりません").lang == "ja"
    assert identifier.detect("파일을 찾을 수 없습니다").lang == "ko"
    assert identifier.detect("保存更改").method == "script"


def test_langid_undetermined_without_letters():
    identifier = LanguageIdentifier()
    for text in ("", "   ", "12 345", "3.14 + 2 = 5.14 !!!"):
        detection = identifier.detect(text, frozenset({"en", "de"}))
        assert (detection.lang, detection.method) == (None, "none")


def test_langid_short_text_goes_to_lingua_restricted_to_candidates():
    identifier = LanguageIdentifier(use_lingua=True, short_text_letters=40)
    detection = identifier.detect("Grazie per il tuo ordine!", frozenset({"en", "fr", "it"}))
    assert (detection.lang, detection.method) == ("it", "lingua")
    without = LanguageIdentifier(use_lingua=False).detect("Grazie per il tuo ordine!", frozenset({"en", "fr", "it"}))
    assert without.method == "langdetect"


def test_langdetect_path_is_deterministic():
    texts = ["I love you", "Das ist gut", "Ceci est un test", "ok then", "Hola amigo mío", "Tak, oczywiście"]
    runs = [[LanguageIdentifier(use_lingua=False).detect(text).lang for text in texts] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def _pair(source: str, translation: str, source_lang: str = "en", target_lang: str = "de") -> invariants.Pair:
    return invariants.Pair(
        source, translation, textparts.split(source), textparts.split(translation), source_lang, target_lang
    )


def _reasons(source: str, translation: str, target_lang: str = "de", **settings) -> dict[str, str]:
    found = invariants.run(_pair(source, translation, target_lang=target_lang), invariants.INVARIANTS,
                           invariants.Settings(**settings))  # fmt: skip
    return {finding.code: finding.reason for finding in found}


def test_faithful_translation_breaks_no_invariant():
    source = "## Setup\n\n1. Run `pip install x==1.2`.\n2. Open https://x.org and write to a@x.org.\n\n**Done** in 5 minutes."
    translation = "## Einrichtung\n\n1. Führen Sie `pip install x==1.2` aus.\n2. Öffnen Sie https://x.org und schreiben Sie an a@x.org.\n\n**Fertig** in 5 Minuten."
    assert _reasons(source, translation) == {}


def test_code_block_difference_names_the_line():
    source = "Code:\n\n```python\nx = 1\ny = 2\n```"
    translation = "Code:\n\n```python\nx = 1\ny = 3\n```"
    assert _reasons(source, translation)["translation.code_blocks"] == (
        "code block 1 is not byte-identical to the source: line 2 'y = 2' became 'y = 3'"
    )
    assert _reasons(source, "Code:\n\n```python\nx = 1\ny = 2\n")["translation.code_blocks"] == (
        "code block 1 is not byte-identical to the source: its closing fence is missing"
    )


def test_placeholder_url_email_tag_and_inline_code_changes_are_named():
    reasons = _reasons(
        "Hi {name}, see https://a.org, mail b@c.org, press <b>OK</b> and run `ls`.",
        "Hallo {nombre}, siehe https://a.de, schreibe an b@c.de, drücke OK und führe `dir` aus.",
    )
    assert reasons["translation.placeholders"] == (
        "placeholders changed; missing from the translation: '{name}'; not in the source: '{nombre}'"
    )
    assert reasons["translation.urls"] == (
        "urls changed; missing from the translation: 'https://a.org'; not in the source: 'https://a.de'"
    )
    assert reasons["translation.emails"].startswith("emails changed; missing from the translation: 'b@c.org'")
    assert reasons["translation.html_tags"] == "html tags changed; missing from the translation: '<b>', '</b>'"
    assert reasons["translation.inline_code"] == (
        "inline code changed; missing from the translation: 'ls'; not in the source: 'dir'"
    )


def test_markdown_and_line_structure():
    reasons = _reasons("# Title\n\n- a\n- b\n- c", "# Titel\n\n- a\n- b")
    assert reasons["translation.markdown"] == (
        "markdown structure changed: 3 bullet list items in the source, 2 in the translation"
    )
    assert reasons["translation.lines"] == (
        "line structure changed: the source has 4 non-empty line(s) in 2 paragraph(s), the translation 3 in 2"
    )


def test_length_ratio_uses_the_language_pair_density():
    source = "Photosynthesis is the process by which green plants use sunlight to produce glucose and oxygen."
    assert "translation.length_ratio" not in _reasons(
        source, "光合作用是绿色植物利用阳光产生葡萄糖和氧气的过程。", target_lang="zh"
    )
    reason = _reasons(source, "光合作用是一个过程。", target_lang="zh")["translation.length_ratio"]
    assert reason.startswith("the translation is 0.3") and "en->zh" in reason and "truncated" in reason


def test_ending_mid_sentence_and_untranslated_copy():
    reasons = _reasons("Open the file and read it.", "Öffnen Sie die Datei und")
    assert reasons["translation.ending"] == (
        "the translation stops mid-sentence (ends with 'Öffnen Sie die Datei und') while the source ends a sentence"
    )
    copy = _reasons("Open the file and read it carefully.", "Open the file and read it carefully.")
    assert copy["translation.untranslated"].startswith("the translation copies the source (chrF 100.0")


def test_a_translated_table_is_not_a_copy():
    source = "| Name | Age |\n| --- | --- |\n| Alice | 30 |"
    assert "translation.untranslated" not in _reasons(source, "| 姓名 | 年龄 |\n| --- | --- |\n| Alice | 30 |", "zh")
