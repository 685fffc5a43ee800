"""Progress for a training run: a rich bar on a terminal, plain lines elsewhere (logs, CI).

Shown: step, loss, eval loss, learning rate, tokens/s, peak memory of the last step and the
time left.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from train.memory import human_bytes


class StepProgress:
    def __init__(
        self, console: Console, total_steps: int, start_step: int, log_every: int, label: str, enabled: bool = True
    ):
        """`enabled=False` (processes other than the main one) shows nothing."""
        self.enabled = enabled
        self.console = console
        self.total = total_steps
        self.start_step = start_step
        self.log_every = log_every
        self.label = label
        self.started = time.perf_counter()
        self.live = enabled and console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None
        self.eval_loss: float | None = None

    def __enter__(self) -> StepProgress:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total, completed=self.start_step, stats="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def update(self, step: int, loss: float, lr: float, tokens_per_second: float, memory: int) -> None:
        """`step` is the number of completed steps."""
        stats = f"loss {loss:.4f}"
        if self.eval_loss is not None:
            stats += f" eval {self.eval_loss:.4f}"
        stats += f" lr {lr:.2e} {tokens_per_second:,.0f} tok/s mem {human_bytes(memory)}"
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.update(self._task, completed=step, stats=stats)
            return
        if step % self.log_every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.started
            done = step - self.start_step
            left = elapsed / done * (self.total - step) if done else 0.0
            self.console.print(
                f"{self.label} step {step}/{self.total} {stats} eta {format_seconds(left)}",
                highlight=False,
                soft_wrap=True,
            )


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
