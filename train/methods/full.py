"""Full fine-tuning: every weight trains. The reference point of the lecture's arithmetic (~16P bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.methods.base import Method, MethodContext, register


@register
class Full(Method):
    name = "full"
    family = "full"
    description = "every parameter trains (reference for memory and quality)"
    default_learning_rate = 2e-5
    trains_base_weights = True

    def apply(self, model: Any, options: Any, context: MethodContext) -> Any:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model

    def save(self, model: Any, directory: Path) -> None:
        model.save_pretrained(str(directory))

    def load(self, base_model: Any, directory: Path) -> Any:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(str(directory), dtype=base_model.dtype)

    def merged(self, model: Any) -> Any:
        return model
