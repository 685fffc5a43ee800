"""BitFit: train the bias terms only (Ben Zaken et al. 2022). peft has no BitFit, so it is written here.

What it saves is a small safetensors file of the trained biases plus `bitfit_config.json`;
`load_bitfit` copies them into a freshly loaded base model, refusing names or shapes that
do not match (a bias file from another architecture must not half-apply silently).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from train.errors import MethodNotApplicable, TrainError
from train.methods.base import Method, MethodContext, MethodOptions, register

BITFIT_WEIGHTS = "bitfit.safetensors"
BITFIT_CONFIG = "bitfit_config.json"


class BitFitOptions(MethodOptions):
    modules: list[str] | None = Field(
        None, description="train only biases of modules whose name contains one of these; default: every bias"
    )


def bias_names(model: Any, modules: list[str] | None) -> list[str]:
    names = []
    for name, _ in model.named_parameters():
        if not name.endswith(".bias"):
            continue
        owner = name[: -len(".bias")]
        if modules is None or any(part in owner for part in modules):
            names.append(name)
    return names


@register
class BitFit(Method):
    name = "bitfit"
    family = "selective"
    description = "train only the bias terms of the base model (Ben Zaken et al. 2022)"
    Options = BitFitOptions
    default_learning_rate = 1e-3

    def check_model(self, options: Any, model: Any) -> None:
        if bias_names(model, options.modules):
            return
        model_type = getattr(model.config, "model_type", type(model).__name__)
        which = "" if options.modules is None else f" in modules matching {options.modules}"
        raise MethodNotApplicable(
            f"bitfit trains bias terms only, and this model ({model_type}) has none{which}: "
            "its linear layers are bias-free. Pick another method, e.g. --method lora or --method ia3"
        )

    def apply(self, model: Any, options: Any, context: MethodContext) -> Any:
        self.check_model(options, model)
        wanted = set(bias_names(model, options.modules))
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name in wanted)  # the trainer upcasts trainable parameters to fp32
        return model

    def save(self, model: Any, directory: Path) -> None:
        from safetensors.torch import save_file

        state = {name: p.detach().float().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
        save_file(state, str(Path(directory) / BITFIT_WEIGHTS))
        meta = {"method": self.name, "version": self.version, "parameters": sorted(state)}
        (Path(directory) / BITFIT_CONFIG).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def load(self, base_model: Any, directory: Path) -> Any:
        return load_bitfit(base_model, directory)

    def merged(self, model: Any) -> Any:
        return model  # the biases live in the model itself


def load_bitfit(model: Any, directory: Path | str) -> Any:
    """Copy trained biases saved by BitFit into `model` (in place) and return it."""
    import torch
    from safetensors.torch import load_file

    path = Path(directory) / BITFIT_WEIGHTS
    if not path.exists():
        raise TrainError(f"{directory} holds no {BITFIT_WEIGHTS}: it is not a bitfit output")
    state = load_file(str(path))
    parameters = dict(model.named_parameters())
    missing = [name for name in state if name not in parameters]
    if missing:
        raise TrainError(
            f"{path}: the model has no parameter {missing[0]!r} ({len(missing)} unknown); wrong base model?"
        )
    with torch.no_grad():
        for name, value in state.items():
            target = parameters[name]
            if tuple(target.shape) != tuple(value.shape):
                raise TrainError(f"{path}: {name} has shape {tuple(value.shape)}, the model's is {tuple(target.shape)}")
            target.copy_(value.to(dtype=target.dtype, device=target.device))
    return model
