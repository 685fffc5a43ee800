"""nltk's punkt data: found where nltk looks or in sft-verify's cache, installed from PyPI,
and its absence is an `error` that says what to run, never a wrong verdict."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from constraints import evaluate, punkt, sentences

ENGLISH = "llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/english/"


def fake_wheel(folder: Path, contents: dict[str, bytes]) -> Path:
    wheel = folder / "llama_index_core-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return wheel


def test_extract_takes_only_punkt_tab_files(tmp_path: Path) -> None:
    wheel = fake_wheel(
        tmp_path,
        {
            ENGLISH + "abbrev_types.txt": b"dr\n",
            "llama_index/core/_static/nltk_cache/corpora/stopwords/english": b"the\n",
            "llama_index/core/__init__.py": b"",
        },
    )
    written = punkt.extract_punkt_tab(wheel, tmp_path / "data")
    assert written == ["tokenizers/punkt_tab/english/abbrev_types.txt"]
    assert (tmp_path / "data" / "tokenizers/punkt_tab/english/abbrev_types.txt").read_bytes() == b"dr\n"
    assert not (tmp_path / "data" / "corpora").exists()


def test_extract_refuses_a_wheel_without_punkt_tab(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="carries no tokenizers/punkt_tab/"):
        punkt.extract_punkt_tab(fake_wheel(tmp_path, {"llama_index/core/__init__.py": b""}), tmp_path / "data")


def test_check_english_model_rejects_changed_files(tmp_path: Path) -> None:
    english = tmp_path / "tokenizers/punkt_tab/english"
    english.mkdir(parents=True)
    for name in punkt.ENGLISH_SHA256:
        (english / name).write_text("not the model")
    with pytest.raises(RuntimeError, match="differs from the one IFEval verdicts were measured with"):
        punkt.check_english_model(tmp_path)


def test_locate_finds_the_cache_and_puts_it_on_nltks_path(tmp_path: Path, monkeypatch) -> None:
    import nltk.data

    installed = punkt.locate() or punkt.install()
    cache = tmp_path / "nltk_data"
    (cache / "tokenizers/punkt_tab").mkdir(parents=True)
    for file in installed.iterdir():
        target = cache / "tokenizers/punkt_tab/english" / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    monkeypatch.setenv("SFT_VERIFY_CACHE", str(tmp_path))
    monkeypatch.setattr(nltk.data, "path", [])
    assert punkt.locate() == cache / "tokenizers/punkt_tab/english"
    assert nltk.data.path == [str(cache)]


def test_missing_punkt_is_an_error_saying_what_to_run(tmp_path: Path, monkeypatch) -> None:
    import nltk.data

    monkeypatch.setenv("SFT_VERIFY_CACHE", str(tmp_path))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nowhere")])
    monkeypatch.delenv("NLTK_DATA", raising=False)
    sentences._sentence_tokenizer.cache_clear()
    try:
        # Many sentence marks, so the cheap bound cannot decide and punkt is needed.
        results = evaluate(
            "One. Two. Three. Four. Five. Six. Punkt needed here.",
            ["length_constraints:number_sentences", "punctuation:no_comma"],
            [{"num_sentences": 3, "relation": "at least"}, {}],
        )
    finally:
        sentences._sentence_tokenizer.cache_clear()
    assert [(r.status, r.code) for r in results] == [
        ("error", "constraints.punkt_missing"),
        ("pass", "constraints.followed"),
    ]
    assert "run `verify data punkt`" in results[0].reason


def test_punkt_command_installs_from_pypi(tmp_path: Path) -> None:
    """The real thing: pip downloads the pinned llama-index-core wheel and we extract punkt_tab."""
    result = CliRunner().invoke(punkt.punkt_command, ["--target", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"installed punkt_tab English model at {tmp_path / 'tokenizers/punkt_tab/english'}"
    punkt.check_english_model(tmp_path)
    assert not any(path.name.startswith(".punkt-") for path in tmp_path.iterdir())
