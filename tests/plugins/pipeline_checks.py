"""Verifiers used only by the pipeline's own tests: behaviour, not quality.

`nonempty` (process): passes when the response has non-whitespace text.
`contains` (process): passes when the response contains spec["text"].
`crashy` (process): raises on a response of "raise", kills its worker on "die".
`mainside` (main): passes when spec["ok"] is true, errors when it is "error".
`seen` (ordered): fails a response seen before; state persisted as a JSON file at checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from verify.records import Record, Verdict, errored, failed, passed
from verify.verifier import Verifier, register


@register
class NonEmpty(Verifier):
    name = "nonempty"
    version = "1"
    description = "the response is not blank"

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        if record.response.strip():
            return passed(self.name, "response has text")
        return failed(self.name, "response is blank", "nonempty.blank")


@register
class Contains(Verifier):
    name = "contains"
    version = "1"

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        text = spec.get("text")
        if not isinstance(text, str):
            return errored(self.name, "spec.text must be a string", "contains.bad_spec")
        if text in record.response:
            return passed(self.name, f"contains {text!r}")
        return failed(self.name, f"does not contain {text!r}", "contains.missing")


@register
class Crashy(Verifier):
    name = "crashy"
    version = "1"

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        if record.response == "raise":
            raise RuntimeError("boom")
        if record.response == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return passed(self.name, "fine")


@register
class MainSide(Verifier):
    name = "mainside"
    version = "1"
    runs_in = "main"

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        if spec.get("ok") == "error":
            return errored(self.name, "could not decide", "mainside.undecided")
        if spec.get("ok"):
            return passed(self.name, "ok")
        return failed(self.name, "not ok", "mainside.not_ok")


@register
class Seen(Verifier):
    name = "seen"
    version = "1"
    runs_in = "ordered"
    cacheable = False

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.seen: dict[str, int] = {}
        self.path: Path | None = None

    def open_state(self, state_dir: Path, resume: bool) -> None:
        self.path = state_dir / "seen.json"
        if resume and self.path.exists():
            self.seen = json.loads(self.path.read_text())

    def checkpoint(self) -> None:
        assert self.path is not None
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.seen))
        tmp.replace(self.path)

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        text = record.response
        if text in self.seen:
            return failed(self.name, f"same response as line {self.seen[text]}", "seen.duplicate")
        self.seen[text] = record.line
        return passed(self.name, "first time")


@register
class Slow(Verifier):
    """Takes spec["ms"] milliseconds, so a run lasts long enough to be killed in the middle."""

    name = "slow"
    version = "1"

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        import time

        time.sleep(spec.get("ms", 1) / 1000)
        if "bad" in record.response:
            return failed(self.name, "contains 'bad'", "slow.bad")
        return passed(self.name, "fine")
