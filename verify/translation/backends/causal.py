"""Back-translation with a local causal chat model (SmolLM2, Qwen, Llama ...), GGUF included.

The model is loaded once through `verify.modelio` and prompted with its own chat template to
translate. Generation is greedy (deterministic, so verdicts are cacheable), batched with left
padding, and sorted by length so that a batch wastes little on padding. On a GPU the model
runs in bfloat16; on CPU in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verify.translation.backends.base import (
    BackendError,
    BackTranslator,
    Job,
    Result,
    chat_messages,
    completion_prompt,
    progress,
)


def resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


class CausalBackend(BackTranslator):
    name = "causal"

    def __init__(
        self,
        model: str,
        gguf_file: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        max_new_tokens: int = 512,
    ) -> None:
        self.model_path = model
        self.gguf_file = gguf_file
        self.device_option = device
        self.dtype_option = dtype
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = ""

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_path,
            **({"gguf_file": self.gguf_file} if self.gguf_file else {}),
        }

    def load(self) -> None:
        """Load tokenizer and model (once)."""
        if self._model is not None:
            return
        from verify.modelio import load_causal_lm, load_tokenizer
        from verify.translation.similarity import pick_device

        self.device = pick_device(self.device_option)
        tokenizer = load_tokenizer(self.model_path, self.gguf_file)
        tokenizer.padding_side = "left"  # generation continues from the right edge of each row
        model = load_causal_lm(self.model_path, self.gguf_file, dtype=resolve_dtype(self.dtype_option, self.device))
        model.to(self.device)
        model.eval()
        self._tokenizer, self._model = tokenizer, model

    def prompt(self, job: Job) -> str:
        """The full prompt text for one job: the model's chat template when it has one."""
        tokenizer = self._tokenizer
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(chat_messages(job), tokenize=False, add_generation_prompt=True)
        return completion_prompt(job)

    def _generate(self, jobs: Sequence[Job]) -> list[str]:
        import torch
        from transformers import GenerationConfig

        tokenizer, model = self._tokenizer, self._model
        chat = bool(getattr(tokenizer, "chat_template", None))
        encoded = tokenizer(
            [self.prompt(job) for job in jobs], return_tensors="pt", padding=True, add_special_tokens=not chat
        ).to(self.device)
        longest_text = max(len(tokenizer(job.text, add_special_tokens=False).input_ids) for job in jobs)
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        config = GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=min(self.max_new_tokens, 2 * longest_text + 32),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
        )
        with torch.inference_mode():
            output = model.generate(**encoded, generation_config=config)
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def translate(self, jobs: Sequence[Job]) -> list[Result]:
        results: list[Result | None] = [None] * len(jobs)
        if not jobs:
            return []
        try:
            self.load()
        except Exception as exc:  # a model that cannot load decides nothing: every job errors
            error = BackendError(f"could not load causal model {self.model_path!r}: {type(exc).__name__}: {exc}")
            return [error] * len(jobs)
        order = sorted(range(len(jobs)), key=lambda index: len(jobs[index].text))
        with progress(len(jobs), "back-translating (causal)") as advance:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                try:
                    texts: list[Result] = list(self._generate([jobs[index] for index in batch]))
                except Exception as exc:  # e.g. out of memory: this batch errors, the rest goes on
                    texts = [BackendError(f"generation failed: {type(exc).__name__}: {exc}")] * len(batch)
                for index, text in zip(batch, texts, strict=True):
                    results[index] = text
                advance(len(batch))
        return [result if result is not None else BackendError("no result") for result in results]

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
