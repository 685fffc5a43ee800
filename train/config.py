"""The trainer's options: one pydantic model shared by the CLI, config files and the library.

A config file (YAML or JSON) holds the same keys as the flags (`learning_rate`, `batch_size`,
...); flags given on the command line win over the file. Unknown keys are rejected with the
list of valid ones, because a typo that silently falls back to a default wastes a training run.
Method hyper-parameters live under `method_options` and are validated by the method itself
(train/methods), so each method documents its own defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from train.errors import TrainError

Precision = Literal["auto", "bf16", "fp16", "fp32"]
Schedule = Literal["cosine", "linear", "constant"]
Attention = Literal["auto", "sdpa", "varlen"]
Truncation = Literal["drop", "right"]


class TrainConfig(BaseModel):
    """Everything one training run needs; the defaults are the documented ones (docs/train.md)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: Path = Field(description="output folder of `verify run` (manifest.json + kept.jsonl)")
    model: str = Field(description="model folder (transformers layout, or the folder holding --gguf-file)")
    output: Path = Field(description="where the adapter (or model) and training.json are written")
    gguf_file: str | None = Field(None, description="GGUF file name inside the model folder")
    method: str = Field("lora", description="one of `verify train --list-methods`")
    method_options: dict[str, Any] = Field(default_factory=dict, description="the method's hyper-parameters")

    # Data
    max_length: int = Field(1024, ge=8, description="tokens per example (and per packed row)")
    truncation: Truncation = Field(
        "drop", description="longer examples: drop them, or keep their first max_length tokens"
    )
    packing: bool | None = Field(None, description="pack several examples per row; default: on where the method allows")
    eval_fraction: float = Field(0.05, ge=0.0, lt=1.0, description="share of examples held out for eval loss")
    seed: int = Field(0, description="seeds the split, the data order and adapter initialisation")

    # Optimisation
    batch_size: int = Field(8, ge=1, description="rows per micro-batch (a packed row holds several examples)")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    epochs: float = Field(1.0, gt=0, description="passes over the training examples")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    learning_rate: float | None = Field(None, gt=0, description="default: the method's own (see --list-methods)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="share of steps with linear warm-up")
    schedule: Schedule = Field("cosine", description="learning-rate decay after warm-up")
    max_grad_norm: float = Field(1.0, ge=0, description="clip the gradient norm to this; 0 turns clipping off")

    # Execution
    precision: Precision = Field("auto", description="auto: bf16 on GPUs that have it, fp16 on other GPUs, fp32 on CPU")
    gradient_checkpointing: bool = Field(
        False, description="recompute activations in backward: less memory, ~30% slower"
    )
    checkpoint_every: int = Field(
        1, ge=1, description="with gradient checkpointing: checkpoint every n-th decoder layer (2: half the recompute)"
    )
    attention: Attention = Field(
        "auto", description="packed rows: varlen kernels on GPU, SDPA + block-diagonal mask else"
    )
    loss_chunk_tokens: int | None = Field(
        None, ge=16, description="tokens per cross-entropy chunk; default from vocab size"
    )
    compile: bool = Field(False, description="torch.compile each decoder layer")

    # Output
    eval_every: int | None = Field(None, ge=1, description="steps between eval losses; default: about 10 per run")
    save_every: int | None = Field(None, ge=1, description="steps between checkpoints; default: only the final save")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept")
    log_every: int = Field(1, ge=1, description="steps between progress lines when not on a terminal")
    merge: bool = Field(False, description="also save the base model with the adapter merged in (output/merged)")
    resume: str | None = Field(None, description="'latest' or a checkpoint folder to continue from")
    overwrite: bool = Field(False, description="allow writing into a non-empty output folder")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from train.methods import METHODS

        if value not in METHODS:
            raise ValueError(f"unknown method {value!r}; choose one of {', '.join(METHODS)}")
        return value

    @model_validator(mode="after")
    def _method_options_valid(self) -> TrainConfig:
        self.method_object().parse_options(self.method_options)
        return self

    def method_object(self) -> Any:
        from train.methods import METHODS

        return METHODS[self.method]

    def options(self) -> Any:
        """The method's validated option object."""
        return self.method_object().parse_options(self.method_options)

    def resolved_learning_rate(self) -> float:
        return self.learning_rate if self.learning_rate is not None else self.method_object().default_learning_rate


def read_config_file(path: Path) -> dict[str, Any]:
    """Keys of a YAML (.yaml/.yml) or JSON config file, as a dict."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TrainError(f"config file {path} is not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrainError(f"config file {path} is not valid JSON (use .yaml for YAML): {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TrainError(f"config file {path} must hold a mapping of option names to values")
    return data


def parse_option_assignments(assignments: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings (from `-O`) to a dict; values are read as YAML scalars or lists (8, 0.1, true, [a, b])."""
    import yaml

    parsed: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise TrainError(f"method option {item!r} must look like KEY=VALUE, e.g. -O r=8")
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise TrainError(f"method option {item!r}: cannot read the value: {exc}") from exc
    return parsed


def build_config(file_values: dict[str, Any], flag_values: dict[str, Any]) -> TrainConfig:
    """Merge config-file values with flags (flags win; `method_options` are merged key by key) and validate."""
    merged = dict(file_values)
    options = dict(merged.get("method_options") or {})
    for key, value in flag_values.items():
        if key == "method_options":
            options.update(value or {})
        elif value is not None:
            merged[key] = value
    merged["method_options"] = options
    try:
        return TrainConfig(**merged)
    except ValidationError as exc:
        raise TrainError(describe_validation_error(exc, TrainConfig)) from exc


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One readable sentence per problem; unknown keys list the valid ones."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "options"
        if error["type"] == "extra_forbidden":
            valid = ", ".join(sorted(model.model_fields))
            problems.append(f"unknown option {where!r} (valid: {valid})")
        elif error["type"] == "missing":
            problems.append(f"missing required option {where!r}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
    return "; ".join(problems)
