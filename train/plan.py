"""`verify train --plan`: the lecture's memory arithmetic for every method on one model and batch shape."""

from __future__ import annotations

from typing import Any

import torch
from rich.table import Table

from train.config import TrainConfig
from train.loss import default_chunk_tokens
from train.memory import PlanRow, build_plan, human_bytes, human_count, model_shape
from train.methods import METHODS, MethodContext
from train.quiet import quiet_libraries
from train.trainer import DTYPES, load_model_config, resolve_precision

PLAN_STEPS = 100  # AdaLoRA's schedule needs a step count; it does not change parameter counts


def plan_for(values: dict[str, Any], method_options: dict[str, Any]) -> tuple[list[PlanRow], str]:
    """Rows for every method given `values` (TrainConfig keys; data and output not needed)."""
    quiet_libraries()
    defaults = {name: field.default for name, field in TrainConfig.model_fields.items() if not field.is_required()}
    settings = defaults | {key: value for key, value in values.items() if value is not None}
    model, gguf_file = settings["model"], settings.get("gguf_file")
    model_config = load_model_config(model, gguf_file)
    precision = settings["precision"]
    if precision == "auto":  # what training would pick on this machine; an explicit one may plan another machine
        precision = resolve_precision(precision, "cuda" if torch.cuda.is_available() else "cpu")
    dtype = DTYPES[precision]
    weight_bytes = torch.finfo(dtype).bits // 8
    vocab = int(model_config.get_text_config().vocab_size)
    chunk = settings.get("loss_chunk_tokens") or default_chunk_tokens(vocab)
    shape = model_shape(model_config, settings["batch_size"], settings["max_length"], weight_bytes, chunk)
    context = MethodContext(model, gguf_file, PLAN_STEPS, settings["seed"], "cpu", dtype)
    chosen = settings.get("method", "lora")
    rows = build_plan(list(METHODS.values()), {chosen: method_options}, model_config, shape, context)
    description = (
        f"{model_config.model_type}, {human_count(shape.params)} parameters, {shape.layers} layers, hidden {shape.hidden}, "
        f"vocab {shape.vocab}; batch {shape.batch} x {shape.seq_len} tokens, {precision} weights, loss chunk {chunk} tokens"
    )
    return rows, description


def render_plan(rows: list[PlanRow], chosen: str, description: str) -> Table:
    table = Table(title=f"Memory plan: {description}", title_justify="left")
    headers = (
        "method",
        "family",
        "trainable",
        "model state",
        "activations",
        "logits (lecture)",
        "estimate (lecture)",
        "estimate (chunked loss)",
    )
    for header in headers:
        table.add_column(header, justify="left" if header in ("method", "family") else "right")
    notes = []
    for row in rows:
        name = f"[bold]{row.method}[/bold] *" if row.method == chosen else row.method
        if row.note:
            notes.append(f"{row.method}: {row.note}")
            table.add_row(name, row.family, "not applicable", *["-"] * (len(headers) - 3))
            continue
        share = f"{human_count(row.trainable)} ({100 * row.trainable / max(row.total, 1):.2f}%)"
        table.add_row(
            name,
            row.family,
            share,
            human_bytes(row.state_bytes),
            human_bytes(row.activation_bytes),
            human_bytes(row.logits_bytes),
            human_bytes(row.estimate_bytes),
            human_bytes(row.estimate_chunked_bytes),
        )
    caption = [
        "model state: full 16·P, adapters b·P + 16·P_t, QLoRA 0.5·P + 16·P_t; activations b·L·B·T·H; "
        "logits 12·B·T·V (lecture) or 6·chunk·V (this trainer). * = the chosen method",
        *notes,
    ]
    table.caption = "\n".join(caption)
    table.caption_justify = "left"
    return table
