"""`verify compare-methods`: the lecture's "try them on your own task and pick the best", measured.

Every chosen method trains on the same vouched rows with the same held-out split (same
seed), the same batch shape and the same number of optimizer steps, each at its own default
learning rate unless one is given. Packing is on only if every chosen method can pack
(prompt and prefix tuning cannot), so all methods see the same tokens per step. A method that
cannot apply (BitFit on a bias-free model, QLoRA without CUDA) gets a row saying why instead
of stopping the comparison.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from train.config import build_config
from train.errors import TrainError
from train.memory import human_bytes, human_count, release_freed_memory
from train.methods import METHODS
from train.trainer import Trainer, TrainResult

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
COMPARE_PNG = "compare.png"


def parse_methods(text: str) -> list[str]:
    names = list(METHODS) if text.strip() == "all" else [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise TrainError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    if not names:
        raise TrainError("--methods is empty")
    return list(dict.fromkeys(names))


def split_method_options(
    assignments: dict[str, Any], methods: list[str], from_file: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """`lora.r=8` style keys (and a config file's `method_options: {lora: {r: 8}}`) to per-method dicts."""
    per_method: dict[str, dict[str, Any]] = {name: {} for name in methods}
    for name, options in (from_file or {}).items():
        if name not in METHODS or not isinstance(options, dict):
            raise TrainError(f"method_options in the config file must map method names to options, got {name!r}")
        per_method.setdefault(name, {}).update(options)
    for key, value in assignments.items():
        name, dot, option = key.partition(".")
        if not dot or name not in METHODS:
            raise TrainError(f"-O {key}=...: prefix the option with its method, e.g. -O lora.r=8")
        per_method.setdefault(name, {})[option] = value
    return per_method


def compare_methods(
    file_values: dict[str, Any],
    values: dict[str, Any],
    methods: list[str],
    per_method: dict[str, dict[str, Any]],
    console: Console | None = None,
) -> list[dict[str, Any]]:
    console = console or Console(
        stderr=True, width=None if sys.stderr.isatty() else 200
    )  # tables stay readable in logs
    output = values.get("output") or file_values.get("output")
    if not output:
        raise TrainError("compare-methods needs --output (a folder for the adapters and the table)")
    output = Path(output)
    shared = dict(values)
    if shared.get("packing") is None and file_values.get("packing") is None:
        shared["packing"] = all(METHODS[name].supports_packing for name in methods)
    rows: list[dict[str, Any]] = []
    for name in methods:
        config_values = shared | {"method": name, "method_options": per_method.get(name, {}), "output": output / name}
        if not METHODS[name].supports_packing:
            config_values["packing"] = False
        console.rule(f"[bold]{name}")
        try:
            config = build_config(file_values, config_values)
            result = Trainer(config, console).run()
            rows.append(result_row(name, result))
        except TrainError as exc:
            console.print(f"{name}: {exc}", highlight=False, soft_wrap=True)
            rows.append({"method": name, "family": METHODS[name].family, "status": "not run", "reason": str(exc)})
        finally:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            release_freed_memory()
    output.mkdir(parents=True, exist_ok=True)
    summary = {
        "data": str(values.get("data")),
        "shared_options": {k: str(v) for k, v in shared.items() if v is not None},
        "methods": rows,
    }
    (output / COMPARE_JSON).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (output / COMPARE_MD).write_text(markdown_table(rows) + "\n", encoding="utf-8")
    plotted = plot_eval_curves(rows, output / COMPARE_PNG)
    console.print(rich_table(rows))
    written = [COMPARE_JSON, COMPARE_MD] + ([COMPARE_PNG] if plotted else [])
    console.print(f"wrote {', '.join(str(output / name) for name in written)}", highlight=False, soft_wrap=True)
    return rows


def result_row(name: str, result: TrainResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "method": name,
        "family": METHODS[name].family,
        "status": "trained",
        "trainable_parameters": result.trainable,
        "total_parameters": result.total,
        "peak_memory_bytes": result.peak_memory_bytes,
        "estimate_bytes": plan.estimate_chunked_bytes if plan else None,
        "estimate_lecture_bytes": plan.estimate_bytes if plan else None,
        "tokens_per_second": result.tokens_per_second,
        "train_loss": result.train_loss,
        "eval_loss": result.eval_loss,
        "seconds": result.seconds,
        "steps": result.steps,
        "eval_history": result.eval_history,
        "loss_history": result.loss_history,
        "output": str(result.output),
    }


COLUMNS = (
    "method",
    "family",
    "trainable",
    "peak memory",
    "estimate",
    "tokens/s",
    "train loss",
    "held-out loss",
    "seconds",
)


def table_cells(row: dict[str, Any]) -> list[str]:
    if row["status"] != "trained":
        return [row["method"], row["family"], "-", "-", "-", "-", "-", "-", f"not run: {row['reason']}"]
    share = 100 * row["trainable_parameters"] / max(row["total_parameters"], 1)
    return [
        row["method"],
        row["family"],
        f"{human_count(row['trainable_parameters'])} ({share:.3f}%)",
        human_bytes(row["peak_memory_bytes"]),
        human_bytes(row["estimate_bytes"]),
        f"{row['tokens_per_second']:,.0f}",
        _loss(row["train_loss"]),
        _loss(row["eval_loss"]),
        f"{row['seconds']:.1f}",
    ]


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in table_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def rich_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="compare-methods (same data, split, steps and batch shape)", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("method", "family") else "right")
    for row in rows:
        table.add_row(*table_cells(row))
    return table


def plot_eval_curves(rows: list[dict[str, Any]], path: Path) -> bool:
    """Held-out loss against step, one line per trained method; False when matplotlib is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        history = row.get("eval_history") or []
        if row["status"] == "trained" and history:
            steps, losses = zip(*history, strict=True)
            axis.plot(steps, losses, marker="o", markersize=3, label=row["method"])
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("held-out loss (per target token)")
    axis.set_title("compare-methods: held-out loss")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True
