"""Back-translation with a local encoder-decoder translation model (Marian, NLLB, M2M100).

Such models translate directly, without a prompt. Multilingual ones need language codes:
NLLB takes FLORES-200 codes (`eng_Latn`) as source language and forced first target token,
M2M100 takes `__en__`-style tokens. Marian models serve one language pair each, so the model
path may contain `{src}` and `{tgt}` (e.g. `/models/opus-mt-{src}-{tgt}`) and one model per
pair is loaded on first use. Generation is greedy unless `num_beams` > 1; always deterministic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from verify.translation.backends.base import BackendError, Job, LocalModelBackend, pick_device, resolve_dtype
from verify.translation.languages import NLLB_CODES


def detect_code_style(tokenizer: Any) -> str:
    """`nllb`, `m2m100` or `none`, from the language tokens the tokenizer knows."""
    vocabulary = tokenizer.get_vocab()
    if "eng_Latn" in vocabulary:
        return "nllb"
    if "__en__" in vocabulary:
        return "m2m100"
    return "none"


class Seq2SeqBackend(LocalModelBackend):
    name = "seq2seq"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 512,
        num_beams: int = 1,
        lang_codes: str = "auto",
    ) -> None:
        self.model_template = model
        self.device_option = device
        self.dtype_option = dtype
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.lang_codes = lang_codes
        self._loaded: dict[str, tuple[Any, Any, str]] = {}
        self.device = ""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_template}

    def model_path(self, job: Job) -> str:
        return self.model_template.replace("{src}", job.source_lang).replace("{tgt}", job.target_lang)

    def load(self, path: str) -> tuple[Any, Any, str]:
        """(tokenizer, model, code style) for a model folder, loaded once."""
        if path not in self._loaded:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            self.device = pick_device(self.device_option)
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=resolve_dtype(self.dtype_option, self.device))
            model.to(self.device)
            model.eval()
            style = detect_code_style(tokenizer) if self.lang_codes == "auto" else self.lang_codes
            self._loaded[path] = (tokenizer, model, style)
        return self._loaded[path]

    def _language_setup(self, tokenizer: Any, style: str, job: Job) -> dict[str, Any]:
        """Set the tokenizer's source language and return generate() kwargs for the target."""
        if style == "none":
            return {}
        if style == "nllb":
            source, target = NLLB_CODES.get(job.source_lang), NLLB_CODES.get(job.target_lang)
            if source is None or target is None:
                missing = job.source_lang if source is None else job.target_lang
                raise BackendError(f"no NLLB language code known for {missing!r}")
        else:
            source, target = job.source_lang, f"__{job.target_lang}__"
        tokenizer.src_lang = source
        target_id = tokenizer.convert_tokens_to_ids(target)
        if target_id is None or target_id == tokenizer.unk_token_id:
            raise BackendError(f"the tokenizer has no language token {target!r}")
        return {"forced_bos_token_id": target_id}

    def model_groups(self, jobs: Sequence[Job]) -> list[list[int]]:
        """One group per language pair: a pair may need its own model, and its own codes."""
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, job in enumerate(jobs):
            groups[(job.source_lang, job.target_lang)].append(index)
        return list(groups.values())

    def model_for(self, job: Job) -> str:
        return self.model_path(job)

    def load_model(self, path: str) -> Any:
        return self.load(path)

    def generate(self, loaded: Any, jobs: Sequence[Job]) -> list[str]:
        import torch

        tokenizer, model, style = loaded
        extra = self._language_setup(tokenizer, style, jobs[0])
        encoded = tokenizer([job.text for job in jobs], return_tensors="pt", padding=True, truncation=True).to(
            self.device
        )
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                do_sample=False,
                num_beams=self.num_beams,
                max_new_tokens=min(self.max_new_tokens, 2 * encoded["input_ids"].shape[1] + 16),
                **extra,
            )
        return [text.strip() for text in tokenizer.batch_decode(output, skip_special_tokens=True)]

    def close(self) -> None:
        self._loaded.clear()
