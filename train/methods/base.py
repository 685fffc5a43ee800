"""What every fine-tuning method provides, and the checked registry of methods.

A method is a small object with identity (`name`, `family` in the lecture's taxonomy,
`version`), a pydantic `Options` model whose defaults are the documented ones, and four verbs:
`check` (refuse before any work: wrong machine, wrong model), `apply` (make the loaded model
trainable), `save` (write what reloads for inference) and `load` (the inverse of save).
The trainer only talks to this interface, so adding a method is one class and one `register`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from train.errors import MethodNotApplicable, TrainError

FAMILIES = ("additive", "selective", "reparameterised", "full")


class MethodOptions(BaseModel):
    """Base of every method's options: unknown keys are an error, never a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class MethodContext:
    """Facts a method needs when it applies to a model."""

    model_path: str
    gguf_file: str | None
    total_steps: int
    seed: int
    device_type: str
    weight_dtype: Any  # torch.dtype of the frozen weights


class Method:
    """One fine-tuning method. Subclasses set the class attributes and implement the verbs."""

    name: ClassVar[str]
    family: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str]
    Options: ClassVar[type[MethodOptions]] = MethodOptions
    default_learning_rate: ClassVar[float] = 2e-4
    # Prompt-learning methods prepend virtual tokens to a row, so a row can hold one example only.
    supports_packing: ClassVar[bool] = True
    # Prefix tuning keeps its prefix in the attention cache, which checkpointed layers drop.
    supports_gradient_checkpointing: ClassVar[bool] = True
    # Whether `merge` can fold the trained weights into a plain model.
    mergeable: ClassVar[bool] = True
    # Why `--merge` is refused when `mergeable` is False (shown before any work); None: nothing to merge.
    merge_refusal: ClassVar[str | None] = None
    # Full fine-tuning keeps fp32 master weights; adapter methods freeze the base in the compute dtype.
    trains_base_weights: ClassVar[bool] = False

    def parse_options(self, values: dict[str, Any] | None) -> MethodOptions:
        try:
            return self.Options(**(values or {}))
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                key = ".".join(str(part) for part in error["loc"])
                if error["type"] == "extra_forbidden":
                    valid = ", ".join(self.Options.model_fields) or "none"
                    problems.append(f"{self.name} has no option {key!r} (its options: {valid})")
                else:
                    problems.append(f"{self.name} option {key}: {error['msg']}")
            raise TrainError("; ".join(problems)) from exc

    # --- verbs -------------------------------------------------------------------------------

    def check_machine(self, options: MethodOptions, device_type: str) -> None:
        """Raise MethodNotApplicable when this machine cannot run the method (before loading anything)."""

    def check_model(self, options: MethodOptions, model: Any) -> None:
        """Raise MethodNotApplicable when the method cannot apply to this architecture.

        `model` may live on the meta device (built from the config alone), so this runs before
        any weights are read."""

    def load_kwargs(self, options: MethodOptions, weight_dtype: Any) -> dict[str, Any]:
        """Extra keyword arguments for `from_pretrained` (quantisation, for QLoRA)."""
        return {}

    def apply(self, model: Any, options: MethodOptions, context: MethodContext) -> Any:
        """Return the model with exactly the method's parameters trainable."""
        raise NotImplementedError

    def save(self, model: Any, directory: Path) -> None:
        """Write what `load` needs to rebuild the trained model on top of the base."""
        raise NotImplementedError

    def load(self, base_model: Any, directory: Path) -> Any:
        """The trained model for inference, from the base model and `save`'s output."""
        raise NotImplementedError

    def merged(self, model: Any) -> Any:
        """A plain transformers model with the trained weights folded in (for `--merge`)."""
        raise MethodNotApplicable(self.merge_refusal or f"{self.name} cannot be merged into the base model")

    def after_optimizer_step(self, model: Any, step: int) -> None:
        """Hook for methods with a schedule of their own (AdaLoRA's rank allocation)."""

    def extra_state(self, model: Any) -> dict[str, Any]:
        """State outside the trained parameters that a checkpoint must keep (AdaLoRA's importance scores)."""
        return {}

    def load_extra_state(self, model: Any, state: dict[str, Any]) -> None:
        """Restore what `extra_state` returned."""

    def extra_loss(self, model: Any) -> Any:
        """A regulariser added to the loss (AdaLoRA's orthogonality penalty), or None."""
        return None

    def describe(self) -> dict[str, Any]:
        """Name, family, default learning rate and the options with their defaults (for --list-methods, docs)."""
        options = {name: field.default for name, field in self.Options.model_fields.items()}
        return {
            "name": self.name,
            "family": self.family,
            "version": self.version,
            "description": self.description,
            "default_learning_rate": self.default_learning_rate,
            "packing": self.supports_packing,
            "mergeable": self.mergeable,
            "options": options,
        }


METHODS: dict[str, Method] = {}
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def register(cls: type[Method]) -> type[Method]:
    """Add a method to METHODS; a malformed or duplicate name is a bug caught at import."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"method class {cls.__name__} needs a lower-case name, got {name!r}")
    if name in METHODS:
        raise ValueError(f"method {name!r} registered twice ({type(METHODS[name]).__name__} and {cls.__name__})")
    if cls.family not in FAMILIES:
        raise ValueError(f"method {name!r}: family {cls.family!r} is not one of {FAMILIES}")
    METHODS[name] = cls()
    # Keep the lecture's order (additive, selective, reparameterised, full) for listings and tables.
    ordered = sorted(METHODS.items(), key=lambda item: FAMILIES.index(item[1].family))
    METHODS.clear()
    METHODS.update(ordered)
    return cls


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for parameter in model.parameters():
        count = parameter.numel()
        if hasattr(parameter, "quant_state") or type(parameter).__name__ == "Params4bit":
            count *= 2  # bitsandbytes packs two 4-bit weights per byte element
        total += count
        if parameter.requires_grad:
            trainable += count
    return trainable, total
