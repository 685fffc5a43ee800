"""Attention for packed batches: varlen kernels when the machine has them, SDPA with a block mask otherwise.

Packed examples must not attend to each other. Resetting position ids is not enough: with
default SDPA the second example still sees the first (a logit difference of up to 21 was
measured, TRAPS.md). Two correct paths:

- `varlen`: the micro-batch is one flattened sequence and the kernel is told where each
  example starts (`cu_seq_lens`). On CUDA this is flash-attention's varlen kernel, from the
  `flash_attn` package when installed, else PyTorch's own (`torch.nn.attention.varlen`, a
  flash kernel shipped with PyTorch >= 2.9). On CPU a per-example SDPA loop computes the same
  thing (slow; it exists so the path can be tested anywhere).
- `block`: rows stay (B, T) and SDPA receives an explicit (B, 1, T, T) block-diagonal causal
  mask, which transformers passes through unchanged.

The varlen path is registered with transformers' `AttentionInterface` under its own name, so
the model's attention layers call it with their query/key/value and our `cu_seq_lens_q` /
`max_length_q` keywords, and transformers builds no mask at all for it.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
from collections.abc import Callable
from typing import Any

from train.errors import TrainError

VARLEN_ATTENTION = "sft_verify_varlen"

# Signature of a varlen kernel: (q, k, v [tokens, heads, dim], cu_seq_lens int32, max_len, scale) -> [tokens, heads, dim]
Kernel = Callable[[Any, Any, Any, Any, int, float], Any]


def flash_attn_kernel() -> Kernel | None:
    if importlib.util.find_spec("flash_attn") is None:
        return None
    from flash_attn import flash_attn_varlen_func

    def run(q: Any, k: Any, v: Any, cu: Any, max_len: int, scale: float) -> Any:
        return flash_attn_varlen_func(
            q, k, v, cu, cu, max_len, max_len, dropout_p=0.0, softmax_scale=scale, causal=True
        )

    return run


def torch_varlen_kernel() -> Kernel | None:
    """PyTorch's flash varlen kernel; its keywords changed between releases, so they are read from the signature."""
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    parameters = inspect.signature(varlen_attn).parameters
    takes_window = "window_size" in parameters
    takes_gqa = "enable_gqa" in parameters
    takes_scale = "scale" in parameters

    def run(q: Any, k: Any, v: Any, cu: Any, max_len: int, scale: float) -> Any:
        kwargs: dict[str, Any] = {}
        if takes_window:
            kwargs["window_size"] = (-1, 0)
        else:
            kwargs["is_causal"] = True
        if q.shape[1] != k.shape[1]:
            if takes_gqa:
                kwargs["enable_gqa"] = True
            else:
                groups = q.shape[1] // k.shape[1]
                k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        if takes_scale:
            kwargs["scale"] = scale
        elif not math.isclose(scale, 1.0 / math.sqrt(q.shape[-1]), rel_tol=1e-6):
            raise TrainError(
                "this PyTorch's varlen kernel has no scale argument and the model needs a custom one; use --attention sdpa"
            )
        return varlen_attn(q, k, v, cu, cu, max_len, max_len, **kwargs)

    return run


def reference_kernel(q: Any, k: Any, v: Any, cu: Any, max_len: int, scale: float) -> Any:
    """One causal SDPA call per example: exact, slow, runs on any device (CPU tests)."""
    import torch
    import torch.nn.functional as F

    outputs = []
    bounds = cu.tolist()
    groups = q.shape[1] // k.shape[1]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        qs, ks, vs = (t[start:end].transpose(0, 1) for t in (q, k, v))  # [heads, len, dim]
        if groups > 1:
            ks, vs = ks.repeat_interleave(groups, dim=0), vs.repeat_interleave(groups, dim=0)
        outputs.append(F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, scale=scale).transpose(0, 1))
    return torch.cat(outputs, dim=0)


def probe_kernel(kernel: Kernel, device: str) -> str | None:
    """Run a kernel once on two short sequences with grouped heads, forward and backward, against
    the per-example reference; None when it agrees, else why not. PyTorch's varlen API changed
    between releases, so a kernel is trusted only after this check."""
    import torch

    generator = torch.Generator(device=device).manual_seed(0)
    shape_q, shape_kv = (24, 4, 64), (24, 2, 64)
    q, k, v = (
        torch.randn(shape, device=device, dtype=torch.bfloat16, generator=generator)
        for shape in (shape_q, shape_kv, shape_kv)
    )
    cu = torch.tensor([0, 9, 24], device=device, dtype=torch.int32)
    try:
        inputs = [t.clone().requires_grad_(True) for t in (q, k, v)]
        out = kernel(*inputs, cu, 15, 0.125)
        out.float().square().sum().backward()
        reference_inputs = [t.clone().requires_grad_(True) for t in (q, k, v)]
        expected = reference_kernel(*reference_inputs, cu, 15, 0.125)
        expected.float().square().sum().backward()
    except Exception as exc:  # any failure means: do not use this kernel
        first_line = (str(exc).splitlines() or [""])[0][:200]
        return f"{type(exc).__name__}: {first_line}"
    worst = max(
        ((a - b).float().norm() / b.float().norm()).item()
        for a, b in zip([out, *(t.grad for t in inputs)], [expected, *(t.grad for t in reference_inputs)], strict=True)
    )
    return None if worst < 2e-2 else f"differs from the reference by {worst:.3g}"


REJECTED: dict[str, str] = {}  # kernel name -> why probe_kernel refused it (shown by the trainer)


@functools.cache
def varlen_kernel(device_type: str) -> tuple[str, Kernel]:
    """(name, kernel) of the best varlen implementation for this device that passes `probe_kernel`."""
    if device_type == "cuda":
        for name, factory in (("flash_attn", flash_attn_kernel), ("torch.varlen", torch_varlen_kernel)):
            kernel = factory()
            if kernel is None:
                continue
            problem = probe_kernel(kernel, "cuda")
            if problem is None:
                return name, kernel
            REJECTED[name] = problem
    return "reference", reference_kernel


def has_fast_varlen(device_type: str) -> bool:
    return varlen_kernel(device_type)[0] != "reference"


_ACTIVE: dict[str, Kernel] = {}


def varlen_attention_forward(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    sliding_window: int | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers attention function: [1, heads, N, dim] in, [1, N, heads, dim] out."""
    cu = kwargs.get("cu_seq_lens_q")
    max_len = kwargs.get("max_length_q")
    if cu is None or max_len is None:
        raise TrainError("varlen attention was called without cu_seq_lens_q / max_length_q (an unpacked batch?)")
    if query.shape[0] != 1:
        raise TrainError(f"varlen attention expects one flattened sequence, got a batch of {query.shape[0]}")
    if dropout:
        raise TrainError("varlen attention does not implement attention dropout; use --attention sdpa for this model")
    if sliding_window is not None and sliding_window < max_len:
        raise TrainError(f"this model uses sliding-window attention ({sliding_window}); use --attention sdpa")
    scale = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))
    out = _ACTIVE[VARLEN_ATTENTION](q, k, v, cu, int(max_len), scale)
    return out.unsqueeze(0), None


def use_varlen_attention(model: Any, device_type: str) -> str:
    """Switch the model's attention layers to the varlen path; returns the kernel's name."""
    from transformers import AttentionInterface

    name, kernel = varlen_kernel(device_type)
    _ACTIVE[VARLEN_ATTENTION] = kernel
    AttentionInterface.register(VARLEN_ATTENTION, varlen_attention_forward)
    try:
        model.set_attn_implementation(VARLEN_ATTENTION)
    except (ValueError, AttributeError) as exc:
        raise TrainError(
            f"this model cannot switch its attention implementation ({exc}); use --attention sdpa"
        ) from exc
    if model.config._attn_implementation != VARLEN_ATTENTION:
        raise TrainError(
            "this model does not dispatch attention through transformers' AttentionInterface; use --attention sdpa"
        )
    return name


def use_sdpa_attention(model: Any) -> None:
    """SDPA honours the explicit 4-D masks of the block layout and the 2-D masks of padded rows."""
    if model.config._attn_implementation != "sdpa":
        try:
            model.set_attn_implementation("sdpa")
        except (ValueError, AttributeError) as exc:
            raise TrainError(f"this model has no SDPA attention ({exc})") from exc
