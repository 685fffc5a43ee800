"""Checkpoints that `--resume` continues from exactly.

A checkpoint holds what the run cannot recompute: the trained parameters (by name, so any
method's are covered), the optimizer and scheduler state, the random generators, the
method's own state (AdaLoRA's importance scores), the loss history, and a fingerprint of
every option that shapes training plus the sha256 of the data. Resuming with different data
or options is refused with the differences named, because the result would be neither run.
Each checkpoint is written to a `.partial` folder and renamed, so a crash never leaves a
half-written checkpoint that looks complete.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from train.errors import TrainError

CHECKPOINTS = "checkpoints"
STATE = "state.json"
TRAINABLE = "trainable.safetensors"


def checkpoint_path(output: Path, step: int) -> Path:
    return Path(output) / CHECKPOINTS / f"step-{step:07d}"


def list_checkpoints(output: Path) -> list[Path]:
    folder = Path(output) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE).exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def resolve_resume(output: Path, resume: str) -> Path:
    if resume == "latest":
        found = list_checkpoints(output)
        if not found:
            raise TrainError(f"--resume latest: {Path(output) / CHECKPOINTS} holds no checkpoint")
        return found[-1]
    path = Path(resume)
    if not (path / STATE).exists():
        raise TrainError(f"--resume {resume}: not a checkpoint folder (no {STATE})")
    return path


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    directory: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    method_state: dict[str, Any],
) -> Path:
    from safetensors.torch import save_file

    partial = directory.with_name(directory.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    save_file(trainable_state(model), str(partial / TRAINABLE))
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    torch.save(scheduler.state_dict(), partial / "scheduler.pt")
    torch.save(method_state, partial / "method_state.pt")
    torch.save(rng_state(), partial / "rng.pt")
    (partial / STATE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    if directory.exists():
        shutil.rmtree(directory)
    partial.rename(directory)
    return directory


def load_checkpoint(
    directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Restore parameters, optimizer, scheduler and RNG; return (state.json, method state)."""
    from safetensors.torch import load_file

    saved = load_file(str(directory / TRAINABLE))
    parameters = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if set(saved) != set(parameters):
        missing = sorted(set(parameters) - set(saved))[:3]
        extra = sorted(set(saved) - set(parameters))[:3]
        raise TrainError(
            f"{directory}: its trained parameters do not match this model (missing {missing}, unknown {extra})"
        )
    with torch.no_grad():
        for name, parameter in parameters.items():
            parameter.copy_(saved[name].to(parameter.device, parameter.dtype))
    optimizer.load_state_dict(torch.load(directory / "optimizer.pt", map_location="cpu", weights_only=True))
    scheduler.load_state_dict(torch.load(directory / "scheduler.pt", weights_only=True))
    set_rng_state(torch.load(directory / "rng.pt", weights_only=False))
    method_state = torch.load(directory / "method_state.pt", map_location="cpu", weights_only=False)
    state = json.loads((directory / STATE).read_text(encoding="utf-8"))
    return state, method_state


def check_fingerprint(saved: dict[str, Any], current: dict[str, Any], directory: Path) -> None:
    differences = [key for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]
    if differences:
        detail = ", ".join(f"{key}: {saved.get(key)!r} -> {current.get(key)!r}" for key in differences[:5])
        raise TrainError(
            f"cannot resume from {directory}: it was made with other data or options ({detail}); "
            "rerun with the original options or start a new output folder"
        )


def prune_checkpoints(output: Path, keep: int) -> None:
    for old in list_checkpoints(output)[:-keep]:
        shutil.rmtree(old)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
