"""What every back-translation backend is: jobs in, one text or one error per job out."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verify.translation import languages


@dataclass(frozen=True)
class Job:
    """Translate `text` from `source_lang` into `target_lang` (bare ISO 639-1 codes)."""

    text: str
    source_lang: str
    target_lang: str


class BackendError(RuntimeError):
    """A backend could not translate (unreachable, timed out, bad answer). Becomes an `error`
    verdict for the records it concerns: a backend's failure never decides pass or fail."""


Result = str | BackendError

SYSTEM_PROMPT = "You are a professional translator. You translate faithfully and completely."


def user_prompt(job: Job) -> str:
    """The instruction a chat model receives; it asks for the translation and nothing else,
    and to keep code, numbers, URLs and placeholders, so back-translations stay comparable."""
    return (
        f"Translate the following {languages.name(job.source_lang)} text into {languages.name(job.target_lang)}. "
        "Keep code, numbers, URLs and placeholders unchanged. Reply with the translation only.\n\n"
        f"{job.text}"
    )


def chat_messages(job: Job) -> list[dict[str, str]]:
    """The chat a chat model receives for one job (local template or OpenAI `messages`)."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user_prompt(job)}]


def completion_prompt(job: Job) -> str:
    """The prompt for models without a chat template (and for `/v1/completions`)."""
    return f"{user_prompt(job)}\n\n{languages.name(job.target_lang)} translation:\n"


class BackTranslator(ABC):
    """Produces back-translations in batches. Subclasses load their model lazily, on the
    first `translate`, so building a verifier (e.g. for `verify checks`) stays cheap."""

    name: str = ""

    @abstractmethod
    def translate(self, jobs: Sequence[Job]) -> list[Result]:
        """One result per job, in order; a failed job yields a BackendError, not an exception."""

    def describe(self) -> dict[str, Any]:
        """Facts about the backend recorded in verdict details."""
        return {"backend": self.name}

    def close(self) -> None:
        """Free the model or connections."""


@contextmanager
def progress(total: int, description: str) -> Iterator[Any]:
    """A rich progress bar on an interactive terminal, nothing otherwise (logs stay clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), disable=not sys.stderr.isatty() or total < 2, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=total)
        yield lambda count: bar.advance(task, count)
