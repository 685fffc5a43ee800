"""Rows, micro-batches and batch tensors.

Packing puts several examples into one row of at most `max_length` tokens (best-fit
decreasing: long examples first, each into the fullest row that still has room), so a step
spends its compute on tokens rather than padding. Packed examples must not see each other:
position ids restart at 0 for every example, and attention is confined to the example either
by varlen kernels (the batch flattened into one sequence with cumulative lengths) or, where
those are unavailable, by an explicit block-diagonal causal mask for SDPA. Without packing a
row holds one example, padded on the right, and the usual 2-D padding mask applies.

Three layouts, one per attention path:

| layout | tensors | used for |
| --- | --- | --- |
| `varlen` | (1, N) ids and positions, `cu_seq_lens`, `max_length` | packed rows, varlen kernels (GPU) |
| `block` | (B, T) ids and positions, (B, 1, T, T) bool mask | packed rows, SDPA (CPU, fallback) |
| `padded` | (B, T) ids, (B, T) padding mask | one example per row |
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from train.data import IGNORE, Example

LAYOUTS = ("varlen", "block", "padded")


def pack_best_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices grouped into rows of total length <= capacity, best-fit decreasing."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row index), kept sorted
    for index in order:
        length = lengths[index]
        if length > capacity:
            raise ValueError(f"example {index} has {length} tokens, more than the row capacity {capacity}")
        slot = bisect.bisect_left(free, (length, -1))
        if slot < len(free):
            room, row = free.pop(slot)
            rows[row].append(index)
            bisect.insort(free, (room - length, row))
        else:
            rows.append([index])
            bisect.insort(free, (capacity - length, len(rows) - 1))
    return rows


@dataclass(frozen=True)
class DataPlan:
    """Which examples form which rows, and how rows group into micro-batches for each epoch."""

    rows: list[list[int]]
    batch_size: int
    seed: int

    def micro_batches(self, epoch: int) -> list[list[list[int]]]:
        """This epoch's micro-batches (lists of rows of example indices), in a seeded order."""
        order = list(range(len(self.rows)))
        random.Random(f"{self.seed}:{epoch}").shuffle(order)
        shuffled = [self.rows[i] for i in order]
        return [shuffled[i : i + self.batch_size] for i in range(0, len(shuffled), self.batch_size)]

    @property
    def micro_batches_per_epoch(self) -> int:
        return -(-len(self.rows) // self.batch_size)


def plan_rows(examples: Sequence[Example], packing: bool, capacity: int, batch_size: int, seed: int) -> DataPlan:
    if packing:
        rows = pack_best_fit([len(example) for example in examples], capacity)
    else:
        rows = [[i] for i in range(len(examples))]
    return DataPlan(rows=rows, batch_size=batch_size, seed=seed)


@dataclass
class Batch:
    """Model inputs for one micro-batch plus its token counts; `inputs` go to the loss module as keywords."""

    inputs: dict[str, Any]
    n_tokens: int  # real tokens, padding excluded
    n_targets: int

    def to(self, device: Any) -> Batch:
        moved = {
            key: value.to(device, non_blocking=True) if hasattr(value, "to") else value
            for key, value in self.inputs.items()
        }
        return Batch(moved, self.n_tokens, self.n_targets)


def collate(examples: Sequence[Example], rows: Sequence[Sequence[int]], layout: str, pad_id: int) -> Batch:
    """Tensors for one micro-batch in the given layout (see the module docstring)."""
    import torch

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    members = [[examples[i] for i in row] for row in rows]
    n_tokens = sum(len(e) for row in members for e in row)
    n_targets = sum(e.n_targets for row in members for e in row)

    if layout == "varlen":
        flat = [e for row in members for e in row]
        ids = [t for e in flat for t in e.input_ids]
        targets = [t for e in flat for t in e.targets]
        positions = [p for e in flat for p in range(len(e))]
        bounds = [0]
        for e in flat:
            bounds.append(bounds[-1] + len(e))
        cu = torch.tensor(bounds, dtype=torch.int32)
        inputs = {
            "input_ids": torch.tensor([ids]),
            "targets": torch.tensor([targets]),
            "position_ids": torch.tensor([positions]),
            "cu_seq_lens": cu,
            "max_length": max(len(e) for e in flat),
        }
        return Batch(with_target_positions(inputs), n_tokens, n_targets)

    width = max(sum(len(e) for e in row) for row in members)
    ids = torch.full((len(members), width), pad_id, dtype=torch.long)
    targets = torch.full((len(members), width), IGNORE, dtype=torch.long)
    if layout == "padded":
        mask = torch.zeros((len(members), width), dtype=torch.long)
        for r, row in enumerate(members):
            (example,) = row
            n = len(example)
            ids[r, :n] = torch.tensor(example.input_ids)
            targets[r, :n] = torch.tensor(example.targets)
            mask[r, :n] = 1
        inputs = {"input_ids": ids, "targets": targets, "attention_mask": mask}
        return Batch(with_target_positions(inputs), n_tokens, n_targets)

    positions = torch.zeros((len(members), width), dtype=torch.long)
    segments = torch.zeros((len(members), width), dtype=torch.long)
    for r, row in enumerate(members):
        cursor = 0
        for s, example in enumerate(row):
            n = len(example)
            ids[r, cursor : cursor + n] = torch.tensor(example.input_ids)
            targets[r, cursor : cursor + n] = torch.tensor(example.targets)
            positions[r, cursor : cursor + n] = torch.arange(n)
            segments[r, cursor : cursor + n] = s
            cursor += n
        # The padding tail is one more segment: every query row of the mask keeps at least one
        # key, so SDPA never produces NaN at padding positions (NaN * 0 still poisons gradients).
        positions[r, cursor:] = torch.arange(width - cursor)
        segments[r, cursor:] = len(row)
    inputs = {
        "input_ids": ids,
        "targets": targets,
        "position_ids": positions,
        "attention_mask": block_causal_mask(segments),
    }
    return Batch(with_target_positions(inputs), n_tokens, n_targets)


def with_target_positions(inputs: dict[str, Any]) -> dict[str, Any]:
    """Add the flat indices of target positions, found here on the CPU so the GPU never waits for a
    boolean-mask gather (which needs the count of True values on the host)."""
    import torch

    inputs["target_positions"] = torch.nonzero(inputs["targets"].flatten() != IGNORE).flatten()
    return inputs


def block_causal_mask(segments: Any) -> Any:
    """(B, 1, T, T) boolean mask: a token attends to earlier tokens of its own segment only (True = attend)."""
    import torch

    width = segments.shape[1]
    same = segments[:, :, None] == segments[:, None, :]
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    return (same & causal)[:, None, :, :]
