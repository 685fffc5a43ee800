"""Progress for long runs: a rich bar on a terminal, plain parseable lines otherwise.

Both go to stderr, so stdout stays free for `--json`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from verify.stats import RunStats

PLAIN_EVERY_SECONDS = 5.0


def _counts(stats: RunStats) -> str:
    o = stats.outcomes
    return (f"kept={o['kept']} rejected={o['rejected']} errors={o['errors']} "
            f"unchecked={o['unchecked']} invalid={o['invalid']}")


class PlainProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.last = 0.0
        self.total: int | None = None

    def start(self, total_bytes: int | None, done_bytes: int) -> None:
        self.total = total_bytes
        self.started = time.monotonic()

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def update(self, done_bytes: int, stats: RunStats) -> None:
        now = time.monotonic()
        if now - self.last < PLAIN_EVERY_SECONDS:
            return
        self.last = now
        elapsed = now - self.started
        rate = stats.rows / elapsed if elapsed > 0 else 0.0
        share = f" {100 * done_bytes / self.total:.1f}%" if self.total else ""
        print(f"progress: rows={stats.rows}{share} rows/s={rate:.0f} {_counts(stats)}", file=self.stream, flush=True)

    def finish(self, stats: RunStats) -> None:
        elapsed = time.monotonic() - self.started
        rate = stats.rows / elapsed if elapsed > 0 else 0.0
        print(f"done: rows={stats.rows} rows/s={rate:.0f} {_counts(stats)}", file=self.stream, flush=True)


class RichProgress:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("[bold]verify[/]"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]} rows · {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=self.console,
            transient=False,
        )
        self.task = None
        self.started = time.monotonic()

    def start(self, total_bytes: int | None, done_bytes: int) -> None:
        self.started = time.monotonic()
        self.bar.start()
        self.task = self.bar.add_task("verify", total=total_bytes, completed=done_bytes, rows=0, rate="-", counts="")

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def update(self, done_bytes: int, stats: RunStats) -> None:
        elapsed = time.monotonic() - self.started
        rate = f"{stats.rows / elapsed:,.0f}" if elapsed > 0 else "-"
        self.bar.update(self.task, completed=done_bytes, rows=f"{stats.rows:,}", rate=rate, counts=_counts(stats))

    def finish(self, stats: RunStats) -> None:
        if self.task is not None:
            self.update(self.bar.tasks[0].total or 0, stats)
            self.bar.stop()


def make_progress(quiet: bool = False, force_plain: bool = False):
    """Rich on a terminal, plain lines when stderr is not one (CI logs), nothing with --quiet."""
    if quiet:
        from verify.pipeline import SilentProgress

        return SilentProgress()
    if not force_plain and sys.stderr.isatty():
        return RichProgress()
    return PlainProgress()
