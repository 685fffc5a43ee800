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


def pick_device(device: str) -> str:
    """`auto` -> cuda when a GPU is visible, else cpu; anything else is used as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> Any:
    """`auto` -> bfloat16 on a GPU, float32 on CPU; anything else names a torch dtype."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


class LocalModelBackend(BackTranslator):
    """A backend running local models: jobs are split into groups each served by one model
    (loaded on first use), and each group is generated in batches sorted by text length (so
    a batch wastes little on padding). A model that cannot load errors its group's jobs; a
    batch that fails errors its own jobs; the rest goes on."""

    batch_size: int

    def model_groups(self, jobs: Sequence[Job]) -> list[list[int]]:
        """Groups of job indices, each served by one model; by default a single group."""
        return [list(range(len(jobs)))] if jobs else []

    @abstractmethod
    def model_for(self, job: Job) -> str:
        """The model path that serves this job (named in load errors)."""

    @abstractmethod
    def load_model(self, path: str) -> Any:
        """The loaded model for `path` (loaded once); raises when it cannot load."""

    @abstractmethod
    def generate(self, model: Any, jobs: Sequence[Job]) -> list[str]:
        """One text per job of a batch, from the loaded model."""

    def translate(self, jobs: Sequence[Job]) -> list[Result]:
        results: dict[int, Result] = {}
        with progress(len(jobs), f"back-translating ({self.name})") as advance:
            for indices in self.model_groups(jobs):
                path = self.model_for(jobs[indices[0]])
                try:
                    model = self.load_model(path)
                except Exception as exc:  # every job of this model errors; other models go on
                    error = BackendError(f"could not load {self.name} model {path!r}: {type(exc).__name__}: {exc}")
                    results.update(dict.fromkeys(indices, error))
                    advance(len(indices))
                    continue
                order = sorted(indices, key=lambda index: len(jobs[index].text))
                for start in range(0, len(order), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    try:
                        texts: list[Result] = list(self.generate(model, [jobs[index] for index in batch]))
                    except BackendError as exc:
                        texts = [exc] * len(batch)
                    except Exception as exc:  # e.g. out of memory: this batch errors, the rest goes on
                        texts = [BackendError(f"generation failed: {type(exc).__name__}: {exc}")] * len(batch)
                    results.update(zip(batch, texts, strict=True))
                    advance(len(batch))
        return [results[index] for index in range(len(jobs))]
