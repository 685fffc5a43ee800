"""The `code` check: the response's code must pass the record's tests inside the sandbox.

`runs_in = "main"`: the pipeline hands `verify_batch` chunks of records from its main process;
they run concurrently on a warm pool of hardened containers (one thread per container) and
come back in order. Nothing ever runs on the host unless `backend: local-unsafe` was chosen.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import Field, model_validator

from sandbox.channel import SandboxError
from sandbox.engine import DEFAULT_IMAGE, DockerBackend, EngineUnavailable
from sandbox.extract import extract_code, with_prompt_prefix
from sandbox.jobs import Limits, build_job
from sandbox.outcome import CHECK, verdict_for
from sandbox.pool import Backend, Pool, SandboxConfig
from sandbox.spec import SpecError, parse_spec
from verify.records import Record, RecordError, Verdict, errored, failed
from verify.verifier import Options, Verifier, VerifierUnavailable, register


class CodeOptions(Options):
    backend: Literal["docker", "local-unsafe"] = Field(
        "docker", description="'docker' (isolated, the default) or 'local-unsafe' (NO isolation: trusted data only)"
    )
    image: str = Field(DEFAULT_IMAGE, description="sandbox image tag (`verify sandbox build` makes it)")
    pool_size: int | None = Field(None, ge=1, le=256, description="containers running at once; default: CPU cores")
    timeout_s: float = Field(6.0, gt=0, description="wall-clock limit per run unless the spec sets timeout_s")
    max_timeout_s: float = Field(60.0, gt=0, description="the largest timeout_s a spec may ask for")
    memory_mb: int = Field(512, ge=32, description="address-space limit per run unless the spec sets memory_mb")
    max_memory_mb: int = Field(1024, ge=32, description="the largest memory_mb a spec may ask for; sizes the containers")
    output_cap_kb: int = Field(1024, ge=1, description="a run writing more than this to stdout or stderr is killed")
    jobs_per_container: int = Field(200, ge=1, description="recycle a container after this many jobs")
    cpus_per_container: float = Field(1.0, gt=0, description="CPU share of each container")
    block: Literal["last", "first", "longest", "all"] = Field(
        "last", description="which python code block of a markdown response runs"
    )

    @model_validator(mode="after")
    def _defaults_within_ceilings(self) -> CodeOptions:
        if self.timeout_s > self.max_timeout_s:
            raise ValueError(f"timeout_s {self.timeout_s} exceeds max_timeout_s {self.max_timeout_s}")
        if self.memory_mb > self.max_memory_mb:
            raise ValueError(f"memory_mb {self.memory_mb} exceeds max_memory_mb {self.max_memory_mb}")
        return self


@register
class CodeVerifier(Verifier):
    name = "code"
    version = "1"
    description = "runs the response's python code against the record's tests in a hardened Docker sandbox"
    extra = None
    requires = ("docker",)
    runs_in = "main"
    Options = CodeOptions

    def __init__(self, options: CodeOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        opts: CodeOptions = self.options  # type: ignore[assignment]
        self.config = SandboxConfig(
            image=opts.image,
            size=opts.pool_size or os.cpu_count() or 1,
            max_memory_mb=opts.max_memory_mb,
            jobs_per_worker=opts.jobs_per_container,
            cpus=opts.cpus_per_container,
        )
        self.backend = self._make_backend(opts.backend)
        self.pool = Pool(self.backend, self.config)
        self._executor: ThreadPoolExecutor | None = None

    def _make_backend(self, kind: str) -> Backend:
        if kind == "local-unsafe":
            from sandbox.local import LocalBackend

            return LocalBackend(self.config)
        try:
            return DockerBackend(self.config)
        except EngineUnavailable as exc:
            raise VerifierUnavailable(f"code checks need the Docker sandbox: {exc}") from exc

    def verify(self, record: Record, spec: dict[str, Any]) -> Verdict:
        return self.verify_batch([(record, spec)])[0]

    def verify_batch(self, items: Sequence[tuple[Record, dict[str, Any]]]) -> list[Verdict]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.config.size, thread_name_prefix="sandbox")
        futures = [self._executor.submit(self._timed, record, spec) for record, spec in items]
        return [future.result() for future in futures]

    def _timed(self, record: Record, spec: dict[str, Any]) -> Verdict:
        started = time.perf_counter()
        try:
            verdict = self._decide(record, spec)
        except Exception as exc:  # our own bug: the record stays undecided, the batch goes on
            verdict = errored(CHECK, f"the code verifier failed: {type(exc).__name__}: {exc}", "code.sandbox_error")
        return verdict.with_seconds(time.perf_counter() - started)

    def _decide(self, record: Record, spec: dict[str, Any]) -> Verdict:
        opts: CodeOptions = self.options  # type: ignore[assignment]
        try:
            parsed = parse_spec(spec, opts.max_timeout_s, opts.max_memory_mb)
            response = record.response
        except (SpecError, RecordError) as exc:
            return errored(CHECK, str(exc), getattr(exc, "code", "code.bad_spec"))
        extraction = extract_code(response, opts.block)
        code, prefixed = with_prompt_prefix(extraction.code, parsed.prompt_prefix, parsed.entry_point)
        details: dict[str, Any] = {
            "mode": parsed.mode,
            "extracted_from": extraction.how,
            "prompt_prefix_used": prefixed,
            "backend": self.backend.name,
        }
        if not code.strip():
            return failed(CHECK, f"no code to run: {extraction.how}", "code.no_code", **details)
        limits = Limits(parsed.timeout_s or opts.timeout_s, parsed.memory_mb or opts.memory_mb, opts.output_cap_kb * 1024)
        job = build_job(code, parsed, limits)
        try:
            reply = self.pool.run(job.message, job.reply_timeout)
        except SandboxError as exc:
            return errored(CHECK, f"the sandbox failed, so the code was not judged: {exc}", "code.sandbox_error", **details)
        verdict = verdict_for(parsed, job, reply, details)
        if verdict.code == "code.syntax_error" and extraction.whole_response:
            verdict = dataclasses.replace(verdict, reason=f"{verdict.reason} (the response has no fenced code block, so all of it was run)")
        return verdict

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.pool.close()
