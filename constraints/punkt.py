"""nltk's English punkt model, made available without nltk's downloader.

`length_constraints:number_sentences` counts sentences with nltk's English punkt model and
`change_case:capital_word_frequency` tokenises with `nltk.word_tokenize` (which also needs
it), exactly as the IFEval reference does. nltk's downloader fetches from
raw.githubusercontent.com, which CI machines and many clusters cannot reach; PyPI is
reachable, and the `llama-index-core` wheel ships nltk's `punkt_tab` resource inside it
(`llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/`). So `install` downloads that
wheel with pip (no install, no dependencies) and extracts only the `punkt_tab` files into
sft-verify's cache (`<cache_dir>/nltk_data`), checking the English model's sha256 sums so
that a changed wheel cannot silently change sentence counts.

`locate` looks where nltk itself looks first (`nltk.data.path`, `$NLTK_DATA`), then in the
cache, and puts the cache on nltk's path when the data is there.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import click

RESOURCE = "tokenizers/punkt_tab/english/"
WHEEL_PACKAGE = "llama-index-core"
# Pinned so that every install extracts the same bytes; `--version` overrides it.
WHEEL_VERSION = "0.14.25"
WHEEL_PREFIX = "llama_index/core/_static/nltk_cache/"
PUNKT_TAB_DIR = "tokenizers/punkt_tab/"
# sha256 of the English model files in nltk's punkt_tab release (as carried by the wheel).
ENGLISH_SHA256 = {
    "abbrev_types.txt": "92a3e070f43d9b4c5534758ca40ad7343b04e7e29bfe0c2eb658a39445a4f779",
    "collocations.tab": "8e2da1225e4dd2cc9dba261ee231ccb134859e21b46006e7f472c5ee269af0cf",
    "ortho_context.tab": "4bbcca25ed3d3f06c02402abf8419b9f033b8adc06e7b482eca4e45f81a5dc4c",
    "sent_starters.txt": "f3f8535483e1dba487241b764945168123bca3209a9645e59acd1225dc76edac",
}
MISSING_MESSAGE = (
    "nltk's English punkt model (punkt_tab) is not installed; run `verify data punkt` "
    "(downloads it from PyPI into sft-verify's cache) and retry"
)


class PunktMissing(RuntimeError):
    """The punkt data is in none of the places nltk or sft-verify look."""

    def __init__(self) -> None:
        super().__init__(MISSING_MESSAGE)


def cache_data_dir() -> Path:
    """sft-verify's own nltk data folder: `<cache_dir>/nltk_data`."""
    from verify.modelio import cache_dir

    return cache_dir() / "nltk_data"


def locate() -> Path | None:
    """The folder holding the English punkt_tab model, or None when it is nowhere.

    nltk's own search path wins (a user's `nltk.download("punkt_tab")` keeps working); the
    sft-verify cache comes next and is appended to `nltk.data.path`, so that nltk's tokenizers
    (`PunktTokenizer`, `word_tokenize`) find it too.
    """
    import nltk.data

    try:
        return Path(str(nltk.data.find(RESOURCE)))
    except LookupError:
        pass
    cached = cache_data_dir()
    english = cached / RESOURCE
    if all((english / name).is_file() for name in ENGLISH_SHA256):
        if str(cached) not in nltk.data.path:
            nltk.data.path.append(str(cached))
        return english
    return None


def require() -> Path:
    """`locate()`, raising PunktMissing (whose message says how to fix it) when absent."""
    found = locate()
    if found is None:
        raise PunktMissing()
    return found


def extract_punkt_tab(wheel: Path, target: Path) -> list[str]:
    """Extract the wheel's `punkt_tab` files under `target`; returns the relative paths written.

    Only members under the wheel's nltk data prefix and inside `tokenizers/punkt_tab/` are
    written, each to a path built from its name checked to stay under `target`.
    """
    written = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if not member.startswith(WHEEL_PREFIX + PUNKT_TAB_DIR) or member.endswith("/"):
                continue
            relative = member[len(WHEEL_PREFIX) :]
            destination = (target / relative).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise RuntimeError(f"refusing to extract {member!r} outside {target}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)
            written.append(relative)
    if not written:
        raise RuntimeError(f"{wheel.name} carries no {PUNKT_TAB_DIR} files under {WHEEL_PREFIX}")
    return written


def check_english_model(folder: Path) -> None:
    """Raise unless the English model files exist with the expected sha256 sums."""
    english = folder / RESOURCE
    for name, expected in ENGLISH_SHA256.items():
        path = english / name
        if not path.is_file():
            raise RuntimeError(f"punkt_tab English model file {path} is missing")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise RuntimeError(
                f"{path} has sha256 {actual}, expected {expected}: this punkt model differs from "
                "the one IFEval verdicts were measured with"
            )


def install(target: Path | None = None, version: str = WHEEL_VERSION, force: bool = False) -> Path:
    """Download the llama-index-core wheel with pip and extract punkt_tab into `target`.

    `target` defaults to `cache_data_dir()`. The data is assembled in a temporary folder next
    to the target and moved into place only after its checksums match, so an interrupted
    install never leaves a half-written model that `locate` would accept.
    """
    target = target or cache_data_dir()
    final = target / PUNKT_TAB_DIR
    if final.exists() and not force:
        check_english_model(target)
        return target / RESOURCE
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".punkt-") as scratch:
        scratch_path = Path(scratch)
        wheels = scratch_path / "wheel"
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            f"{WHEEL_PACKAGE}=={version}",
            "-d",
            str(wheels),
        ]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(command)}` failed (exit {completed.returncode}): {completed.stderr.strip()[-2000:]}"
            )
        wheel = next(wheels.glob("*.whl"))
        staged = scratch_path / "data"
        extract_punkt_tab(wheel, staged)
        check_english_model(staged)
        if final.exists():
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        (staged / PUNKT_TAB_DIR).rename(final)
    return target / RESOURCE


@click.command("punkt")
@click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="nltk data folder to install into [default: <sft-verify cache>/nltk_data].",
)
@click.option(
    "--version",
    "wheel_version",
    default=WHEEL_VERSION,
    show_default=True,
    help="llama-index-core wheel version to take punkt_tab from.",
)
@click.option("--force", is_flag=True, help="Reinstall even when the data is already there.")
def punkt_command(target: Path | None, wheel_version: str, force: bool) -> None:
    """Install nltk's English punkt model (punkt_tab) from PyPI, without nltk's downloader.

    Needed by the `constraints` check (sentence counts, capital-word counts).
    """
    if target is None and not force:
        found = locate()
        if found is not None:
            click.echo(f"punkt_tab English model already available at {found}")
            return
    try:
        installed = install(target, wheel_version, force)
    except (RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"installed punkt_tab English model at {installed}")
