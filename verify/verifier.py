"""The verifier interface and the registry every verifier joins (DESIGN.md §5).

A verifier is a small class with an identity (`name`, `version`, the `extra` that provides
its dependencies) and `verify(record, spec) -> Verdict`. Its options are a pydantic model
that rejects unknown keys, so a typo in a configuration is an error, not a silent default.

Where a verifier runs is part of its identity (`runs_in`):
- "process": CPU-bound and stateless; the pipeline runs it in worker processes.
- "main": drives its own concurrency (a container pool, a GPU model); the pipeline calls
  `verify_batch` from the main process on chunks of records.
- "ordered": decides a row from the rows before it (dedup); the pipeline calls it in input
  order from the main process, and its state must be checkpointed with the run.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from verify.records import Record, Verdict, canonical_json, errored

RunsIn = Literal["process", "main", "ordered"]
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class Options(BaseModel):
    """Base of every verifier's options: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VerifierUnavailable(RuntimeError):
    """The verifier cannot be built here (a missing extra, no engine); says how to fix it."""


class Verifier(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    extra: ClassVar[str | None] = None
    requires: ClassVar[tuple[str, ...]] = ()
    runs_in: ClassVar[RunsIn] = "process"
    cacheable: ClassVar[bool] = True
    Options: ClassVar[type[Options]] = Options

    def __init__(self, options: Options | dict[str, Any] | None = None) -> None:
        self.check_requirements()
        if options is None:
            options = {}
        if isinstance(options, dict):
            try:
                options = self.Options(**options)
            except ValidationError as exc:
                raise ValueError(f"invalid options for verifier {self.name!r}: {exc}") from exc
        self.options = options

    @classmethod
    def check_requirements(cls) -> None:
        """Raise VerifierUnavailable naming the extra when an optional dependency is missing."""
        missing = [module for module in cls.requires if importlib.util.find_spec(module) is None]
        if missing:
            hint = f"pip install 'sft-verify[{cls.extra}]'" if cls.extra else "install " + ", ".join(missing)
            raise VerifierUnavailable(
                f"verifier {cls.name!r} needs {', '.join(missing)} which is not installed: {hint}"
            )

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}"

    def config_fingerprint(self) -> str:
        """The options as stable JSON; part of the verdict-cache key."""
        return canonical_json(self.options.model_dump(mode="json"))

    def cache_material(self, record: Record, spec: dict[str, Any]) -> Any:
        """What a verdict depends on besides identity and options. Override to narrow it."""
        return {"messages": record.messages, "spec": spec}

    @abstractmethod
    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        """Decide one record. `spec` is `record.checks[self.name]` (or the file-wide spec)."""

    def verify_batch(self, items: Sequence[tuple[Record, dict[str, Any]]]) -> list[Verdict]:
        """Decide many records, in order. The default is a timed loop; override to batch."""
        verdicts = []
        for record, spec in items:
            started = time.perf_counter()
            verdict = self.verify(record, spec)
            verdicts.append(verdict.with_seconds(time.perf_counter() - started))
        return verdicts

    # Hooks for "ordered" verifiers whose state must survive an interrupted run.
    def open_state(self, state_dir: Path, resume: bool) -> None:
        """Called once before the first batch with a directory the verifier may keep state in."""

    def checkpoint(self) -> None:
        """Called right before the run commits progress; persist state up to here."""

    def close(self) -> None:
        """Release pools, processes and models."""


def crash_verdict(check: str, exc: BaseException) -> Verdict:
    """The verdict for a verifier that raised: it could not decide, so `error`."""
    return errored(
        check, f"verifier {check!r} crashed: {type(exc).__name__}: {exc}", f"{check}.crash"
    )


def no_fields_problem(check: str, spec: Any) -> str | None:
    """Why `checks.<check>` is unusable for a check that takes no per-record fields, or None."""
    if not isinstance(spec, dict):
        return f"checks.{check} must be an object, got {type(spec).__name__}"
    if spec:
        return (f"checks.{check} takes no fields (got {', '.join(sorted(map(str, spec)))}); "
                f"set options for the whole run with --set {check}.<option>=<value>")
    return None


_REGISTRY: dict[str, str | type[Verifier]] = {}

# Built-in verifiers, imported only when used so that a missing extra never breaks the CLI.
BUILTIN: dict[str, str] = {
    "math": "verify.mathgrade.verifier:MathVerifier",
    "code": "sandbox.verifier:CodeVerifier",
    "constraints": "constraints.verifier:ConstraintsVerifier",
    "translation": "verify.translation.verifier:TranslationVerifier",
    "dedup": "verify.dedup:DedupVerifier",
    "decontam": "verify.decontam:DecontamVerifier",
}
ENTRY_POINT_GROUP = "sft_verify.verifiers"


def register(cls: type[Verifier]) -> type[Verifier]:
    """Register a verifier class under its name (usable as a decorator).

    Rejects malformed names, missing versions and a second class under a taken name, so a
    plug-in mistake shows at import, not as a silent override.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(f"verifier name {name!r} must match {NAME_PATTERN.pattern}")
    if not isinstance(getattr(cls, "version", None), str) or not cls.version:
        raise ValueError(f"verifier {name!r} needs a non-empty string version")
    if cls.runs_in not in ("process", "main", "ordered"):
        raise ValueError(f"verifier {name!r} has unknown runs_in {cls.runs_in!r}")
    existing = _REGISTRY.get(name)
    if isinstance(existing, type) and existing is not cls:
        raise ValueError(f"verifier name {name!r} is already registered by {existing.__module__}")
    _REGISTRY[name] = cls
    return cls


def _load_entry_points() -> None:
    for name, target in BUILTIN.items():
        _REGISTRY.setdefault(name, target)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _REGISTRY.setdefault(entry_point.name, entry_point.value)


def names() -> list[str]:
    """Every known check name (built-ins and installed plug-ins)."""
    _load_entry_points()
    return sorted(_REGISTRY)


def get(name: str) -> type[Verifier]:
    """The verifier class for a check name; KeyError when no verifier has that name."""
    _load_entry_points()
    target = _REGISTRY.get(name)
    if target is None:
        raise KeyError(name)
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        cls = getattr(importlib.import_module(module_name), attribute)
        if _REGISTRY.get(name) is target:
            register(cls)
        target = _REGISTRY[name]
    assert isinstance(target, type)
    return target


def build(name: str, options: dict[str, Any] | None = None) -> Verifier:
    """Instantiate a registered verifier with validated options."""
    return get(name)(options or {})


def import_plugins(modules: Sequence[str]) -> None:
    """Import plug-in modules whose import registers verifiers (`--plugin`)."""
    for module in modules:
        importlib.import_module(module)
