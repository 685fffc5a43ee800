"""The lecture's memory arithmetic per method, and measuring the real peak next to it.

With P parameters, P_t of them trained, L layers, hidden size H, vocabulary V, batch B,
sequence length T and b bytes per frozen weight (2 in bf16/fp16, 4 in fp32):

| term | formula | what it counts |
| --- | --- | --- |
| model state, full fine-tuning | 16·P | fp32 weights 4 + gradients 4 + Adam moments 8 |
| model state, adapter methods | b·P + 16·P_t | frozen weights + the trained ones' state |
| model state, QLoRA | 0.5·P + 16·P_t | 4-bit frozen weights |
| activations | b·L·B·T·H | one hidden state per layer and token (what checkpointing keeps) |
| logits | 12·B·T·V | fp32 logits, softmax and gradient of the whole batch |

The trainer never holds the whole batch's logits (train/loss.py): its logits term is
6·C·V for a chunk of C tokens (the head's half-precision output and one fp32 working copy),
shown beside the lecture's. The activation term is the
gradient-checkpointing floor; without checkpointing a layer keeps several tensors per token
(the MLP's intermediate ones are 3-5× wider than H), so the measured peak then exceeds it.

Trainable parameters are counted exactly by applying each method to the model built on
PyTorch's meta device: no weights are read and nothing is allocated.
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any

from train.errors import MethodNotApplicable

# Bytes per logit the chunked loss holds at its peak (train/loss.py): the head's half-precision
# output, later reused for the gradient, plus one fp32 working copy.
BYTES_PER_LOGIT = 6


@dataclass
class PlanRow:
    method: str
    family: str
    trainable: int
    total: int
    state_bytes: int
    activation_bytes: int
    logits_bytes: int
    chunked_logits_bytes: int
    note: str = ""
    measured_peak_bytes: int | None = None

    @property
    def estimate_bytes(self) -> int:
        """The lecture's estimate: model state + activations + whole-batch logits."""
        return self.state_bytes + self.activation_bytes + self.logits_bytes

    @property
    def estimate_chunked_bytes(self) -> int:
        """The same with this trainer's chunked logits."""
        return self.state_bytes + self.activation_bytes + self.chunked_logits_bytes

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["estimate_bytes"] = self.estimate_bytes
        data["estimate_chunked_bytes"] = self.estimate_chunked_bytes
        return data


@dataclass(frozen=True)
class Shape:
    """What the formulas need from a model and a batch."""

    params: int
    layers: int
    hidden: int
    vocab: int
    batch: int
    seq_len: int
    weight_bytes: int  # bytes per frozen weight: 2 (bf16/fp16) or 4 (fp32)
    chunk_tokens: int


def state_bytes(method: str, shape: Shape, trainable: int) -> int:
    if method == "full":
        return 16 * shape.params
    if method == "qlora":
        return shape.params // 2 + 16 * trainable
    return shape.weight_bytes * shape.params + 16 * trainable


def plan_row(method: Any, shape: Shape, trainable: int, total: int, note: str = "") -> PlanRow:
    tokens = shape.batch * shape.seq_len
    return PlanRow(
        method=method.name,
        family=method.family,
        trainable=trainable,
        total=total,
        state_bytes=state_bytes(method.name, shape, trainable),
        activation_bytes=shape.weight_bytes * shape.layers * tokens * shape.hidden,
        logits_bytes=12 * tokens * shape.vocab,
        chunked_logits_bytes=BYTES_PER_LOGIT * min(shape.chunk_tokens, tokens) * shape.vocab,
        note=note,
    )


def meta_model(model_config: Any) -> Any:
    """The architecture with no storage (meta device): parameter shapes and names only."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(model_config)


def count_method_parameters(method: Any, options: Any, model_config: Any, context: Any) -> tuple[int, int]:
    """(trainable, total) after applying `method` to a meta-device copy of the model.

    QLoRA's adapter is LoRA's; it is counted on the unquantised model (quantisation needs a GPU)."""
    import torch

    from train.methods import METHODS, trainable_parameters

    model = meta_model(model_config)
    method.check_model(options, model)
    applier = METHODS["lora"] if method.name == "qlora" else method
    with torch.device("meta"):
        applied = applier.apply(model, options, context)
    return trainable_parameters(applied)


def build_plan(
    methods: list[Any], method_options: dict[str, dict[str, Any]], model_config: Any, shape: Shape, context: Any
) -> list[PlanRow]:
    """One PlanRow per method; a method that cannot apply gets a row with its reason and zero counts."""
    rows = []
    for method in methods:
        options = method.parse_options(method_options.get(method.name, {}))
        try:
            trainable, total = count_method_parameters(method, options, model_config, context)
        except MethodNotApplicable as exc:
            rows.append(plan_row(method, shape, 0, shape.params, note=f"not applicable: {exc}"))
            continue
        rows.append(plan_row(method, shape, trainable, total))
    return rows


def model_shape(model_config: Any, batch: int, seq_len: int, weight_bytes: int, chunk_tokens: int) -> Shape:
    from train.methods import trainable_parameters

    text_config = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    _, params = trainable_parameters(meta_model(model_config))
    return Shape(
        params=params,
        layers=int(text_config.num_hidden_layers),
        hidden=int(text_config.hidden_size),
        vocab=int(text_config.vocab_size),
        batch=batch,
        seq_len=seq_len,
        weight_bytes=weight_bytes,
        chunk_tokens=chunk_tokens,
    )


def human_bytes(value: int | float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:.2f} {unit}"
    return f"{int(value)} B"


def human_count(value: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if value >= size:
            return f"{value / size:.2f}{unit}"
    return str(value)


class MemoryMeter:
    """Peak memory per training step.

    On CUDA: `torch.cuda.max_memory_allocated`, reset after every read, so each step's peak is
    its own (and nothing else resets it behind our back, unlike in transformers' Trainer).
    On CPU there is no allocator counter: a thread samples the process's resident memory every
    few milliseconds and the peak above the level measured before the model was loaded is
    reported — weights included, like the estimate."""

    def __init__(self, device: Any):
        import torch

        self.cuda = device.type == "cuda"
        self.device = device
        self.peak = 0
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)
            self.baseline = 0
        else:
            release_freed_memory()
            self.baseline = resident_bytes()

    def start(self) -> None:
        if self.cuda or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._sampled = max(self._sampled, resident_bytes())

    def reset(self) -> None:
        import torch

        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        self._sampled = 0
        self.peak = 0

    def step_peak(self) -> int:
        """The peak since the previous call (bytes)."""
        import torch

        if self.cuda:
            value = torch.cuda.max_memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            value = max(self._sampled, resident_bytes()) - self.baseline
            self._sampled = 0
        self.peak = max(self.peak, value)
        return value

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None


def resident_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_freed_memory() -> None:
    """Return freed heap memory to the OS (glibc), so one run's leftovers do not count as the next one's."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
