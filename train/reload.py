"""Loading what `verify train` saved, for inference: the base model from training.json plus the method's output.

peft adapters also load directly with `PeftModel.from_pretrained(base, output)`; BitFit's bias
file with `train.methods.bitfit.load_bitfit(base, output)`; full fine-tuning's folder is a
plain transformers model. This helper picks the right one from training.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from train.errors import TrainError
from train.trainer import TRAINING_JSON


def load_trained(directory: Path | str, dtype: Any = None) -> tuple[Any, Any]:
    """(model ready for generation, tokenizer) from a `verify train` output folder."""
    from train.methods import METHODS
    from verify.modelio import load_causal_lm, load_tokenizer

    directory = Path(directory)
    path = directory / TRAINING_JSON
    if not path.exists():
        raise TrainError(f"{directory} has no {TRAINING_JSON}: it is not a `verify train` output")
    record = json.loads(path.read_text(encoding="utf-8"))
    method = METHODS[record["method"]["name"]]
    base = record["base_model"]
    model = load_causal_lm(base["path"], base.get("gguf_file"), dtype=dtype)
    tokenizer = load_tokenizer(directory)
    trained = method.load(model, directory)
    trained.eval()
    return trained, tokenizer


def reply(model: Any, tokenizer: Any, messages: list[dict[str, Any]], max_new_tokens: int = 64) -> str:
    """The model's greedy answer to a conversation, formatted with its chat template: a quick look after training."""
    import torch

    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    device = next(model.parameters()).device
    ids, mask = encoded["input_ids"].to(device), encoded["attention_mask"].to(device)
    with torch.no_grad():
        generated = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True)
