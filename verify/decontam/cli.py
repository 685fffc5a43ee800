"""`verify data decontam-index`: build the n-gram indexes the `decontam` check reads.

    verify data decontam-index --builtin                       # IFEval, GSM8K, MATH, HumanEval, MBPP
    verify data decontam-index --file mmlu.jsonl --field question --id-field id --name mmlu
    verify data decontam-index --file notes.txt --text-unit paragraph --name notes
    verify data decontam-index --list
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from verify.decontam.index import DEFAULT_MIN_WORDS, DEFAULT_NGRAM, BuildReport, default_index_dir
from verify.decontam.sources import (
    BUILTIN_BENCHMARKS,
    FILE_FORMATS,
    TEXT_UNITS,
    SourceError,
    default_corpora,
)

EXIT_USAGE = 2
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-.")


class IndexCommandError(click.ClickException):
    exit_code = EXIT_USAGE


@contextmanager
def unit_progress(label: str) -> Iterator[Callable[[int], None]]:
    """A rich counter on a terminal, a line every 5 s otherwise."""
    if sys.stderr.isatty():
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn(f"{label}: {{task.completed:,}} units"), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task(label, total=None)
            yield lambda done: bar.update(task, completed=done)
        return
    last = [time.monotonic()]

    def plain(done: int) -> None:
        if time.monotonic() - last[0] >= 5.0:
            last[0] = time.monotonic()
            click.echo(f"{label}: {done:,} units", err=True)

    yield plain


def describe(report: BuildReport) -> str:
    notes = []
    if report.short_units:
        notes.append(f"{report.short_units} shorter than n matched by --min-words-grams")
    if report.whole_units:
        notes.append(f"{report.whole_units} under --min-words matched only as a whole message")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return (f"{report.name}: {report.items:,} items, {report.units:,} texts, {report.grams:,} n-grams{extra} "
            f"-> {report.path} [{report.seconds:.1f}s]")


def build_builtin(corpora: Path, out: Path, only: tuple[str, ...], ngram: int, min_words: int) -> None:
    from verify.decontam.index import build_index
    from verify.decontam.sources import read_units
    from verify.manifest import file_sha256

    if not corpora.is_dir():
        raise IndexCommandError(f"corpora folder {corpora} not found; pass --corpora or set SFT_VERIFY_CORPORA")
    for name in only or tuple(BUILTIN_BENCHMARKS):
        source = BUILTIN_BENCHMARKS[name]
        path = corpora / source.path
        if not path.is_file():
            raise IndexCommandError(f"{path} not found: the corpora folder lacks {source.title}")
        with unit_progress(name) as progress:
            report = build_index(
                name, source.title, read_units(path, source.fields, source.id_field), out,
                {"path": str(path), "sha256": file_sha256(path), "fields": list(source.fields),
                 "id_field": source.id_field},
                ngram, min_words, progress,
            )
        click.echo(describe(report))


def build_file(path: Path, name: str, title: str | None, fields: tuple[str, ...], id_field: str | None, fmt: str,
               text_unit: str, out: Path, ngram: int, min_words: int) -> None:
    from verify.decontam.index import build_index
    from verify.decontam.sources import read_units
    from verify.manifest import file_sha256

    if not path.is_file():
        raise IndexCommandError(f"benchmark file {path} does not exist")
    source = {"path": str(path), "sha256": file_sha256(path), "fields": list(fields), "id_field": id_field,
              "format": fmt, "text_unit": text_unit}
    with unit_progress(name) as progress:
        report = build_index(name, title or name, read_units(path, fields, id_field, fmt, text_unit), out, source,
                             ngram, min_words, progress)
    click.echo(describe(report))


def list_indexes(out: Path) -> None:
    from verify.decontam.index import IndexUnavailable, read_meta

    folders = sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.is_dir() else []
    if not folders:
        click.echo(f"no decontam indexes in {out}; build them with: verify data decontam-index --builtin")
        return
    for folder in folders:
        try:
            meta = read_meta(folder)
        except IndexUnavailable as exc:
            click.echo(f"{folder.name}: unusable ({exc})")
            continue
        click.echo(f"{folder.name}: {meta['title']}, {meta['items']:,} items, {meta['grams']:,} {meta['ngram']}-grams, "
                   f"from {meta['source'].get('path')} ({meta['created_at']})")


@click.command("decontam-index")
@click.option("--builtin", is_flag=True,
              help="Index the benchmarks in the shared corpora: " + ", ".join(BUILTIN_BENCHMARKS) + ".")
@click.option("--only", multiple=True, type=click.Choice(sorted(BUILTIN_BENCHMARKS)),
              help="With --builtin, just these benchmarks (repeatable).")
@click.option("--corpora", type=click.Path(path_type=Path), default=None,
              help="The corpora folder (default: $SFT_VERIFY_CORPORA, else shared/corpora beside the checkout).")
@click.option("--file", "file_path", type=click.Path(path_type=Path), default=None,
              help="A benchmark file of your own: JSONL, Parquet or plain text.")
@click.option("--name", default=None, help="With --file: the index name (what --set decontam.benchmarks=... uses).")
@click.option("--title", default=None, help="With --file: the benchmark's name in reasons (default: --name).")
@click.option("--field", "fields", multiple=True,
              help="With --file (JSONL/Parquet): a field holding benchmark text (repeatable; lists are joined).")
@click.option("--id-field", default=None, help="With --file: the field naming each item (default: its row number).")
@click.option("--format", "fmt", type=click.Choice(FILE_FORMATS), default="auto", show_default=True,
              help="With --file: how to read it (auto: by suffix).")
@click.option("--text-unit", type=click.Choice(TEXT_UNITS), default="line", show_default=True,
              help="With a plain-text --file: one item per line, per blank-line-separated paragraph, or the whole file.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Index folder (default: <cache>/decontam, where the decontam check looks).")
@click.option("--ngram", type=click.IntRange(3, 50), default=DEFAULT_NGRAM, show_default=True, help="Words per n-gram.")
@click.option("--min-words", type=click.IntRange(1, 50), default=DEFAULT_MIN_WORDS, show_default=True,
              help="Texts shorter than --ngram but at least this long are matched whole anywhere in a message; "
                   "shorter ones only when a message is exactly that text.")
@click.option("--list", "list_only", is_flag=True, help="List the indexes in the folder and stop.")
def index_command(builtin: bool, only: tuple[str, ...], corpora: Path | None, file_path: Path | None, name: str | None,
                  title: str | None, fields: tuple[str, ...], id_field: str | None, fmt: str, text_unit: str,
                  out: Path | None, ngram: int, min_words: int, list_only: bool) -> None:
    """Build n-gram indexes of benchmark texts for the `decontam` check."""
    out = out or default_index_dir()
    if list_only:
        list_indexes(out)
        return
    if builtin == (file_path is not None):
        raise IndexCommandError("give either --builtin or --file (with --name and, for JSONL/Parquet, --field)")
    try:
        if builtin:
            build_builtin(corpora or default_corpora(), out, only, ngram, min_words)
            return
        if not name or not set(name) <= NAME_CHARS or name.startswith("."):
            raise IndexCommandError("--name is required: lowercase letters, digits, '_', '-', '.' (e.g. mmlu_test)")
        assert file_path is not None
        build_file(file_path, name, title, fields, id_field, fmt, text_unit, out, ngram, min_words)
    except SourceError as exc:
        raise IndexCommandError(str(exc)) from exc
