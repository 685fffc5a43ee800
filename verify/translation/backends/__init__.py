"""Back-translation backends: `causal` and `seq2seq` local models, an `http` server, or none.

`build(options)` is the one place that turns the verifier's options into a backend; the
modules behind it import torch/transformers only when a model is actually loaded.
"""

from __future__ import annotations

from typing import Any

from verify.translation.backends.base import BackendError, BackTranslator, Job, Result

__all__ = ["BackendError", "BackTranslator", "Job", "Result", "build"]


def build(options: Any) -> BackTranslator | None:
    """The backend the options name (None for `none`); options are already validated."""
    if options.backend == "causal":
        from verify.translation.backends.causal import CausalBackend

        return CausalBackend(
            options.model, options.gguf_file, options.device, options.dtype, options.batch_size, options.max_new_tokens
        )
    if options.backend == "seq2seq":
        from verify.translation.backends.seq2seq import Seq2SeqBackend

        return Seq2SeqBackend(
            options.model, options.device, options.dtype, options.batch_size, options.max_new_tokens,
            options.num_beams, options.lang_codes,
        )  # fmt: skip
    if options.backend == "http":
        from verify.translation.backends.http import HttpBackend

        return HttpBackend(
            options.endpoint, options.model, options.api, options.api_key_env, options.timeout_s,
            options.retries, options.backoff_s, options.concurrency, options.max_new_tokens,
        )  # fmt: skip
    return None
