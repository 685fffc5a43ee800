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
    Job,
    LocalModelBackend,
    chat_messages,
    completion_prompt,
    pick_device,
    resolve_dtype,
)


class CausalBackend(LocalModelBackend):
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

    def model_for(self, job: Job) -> str:
        return self.model_path

    def load_model(self, path: str) -> Any:
        self.load()
        return self._model

    def generate(self, model: Any, jobs: Sequence[Job]) -> list[str]:
        import torch
        from transformers import GenerationConfig

        tokenizer = self._tokenizer
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

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
