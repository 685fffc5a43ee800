"""Peak bytes of live tensor storage, counted the same way on any device.

On CUDA, `torch.cuda.max_memory_allocated` counts every byte the caching allocator hands
out. The CPU has no such counter, and resident-set size is a poor stand-in: it includes the
Python heap and allocator slack, and misses short peaks between samples. This meter is a
`TorchDispatchMode`: every tensor an operator returns while it is active has its storage
counted once, from the moment it appears until Python frees it (a finalizer on the storage),
so the peak is the largest sum of live storage bytes at any operator boundary — what
`max_memory_allocated` reports on a GPU, up to the allocator's block rounding and the
scratch space kernels allocate internally. It sees the forward and backward passes (autograd
runs operators through the same dispatcher), recomputation under activation checkpointing,
optimizer steps and anything a trainer framework does in between, so two trainers measured
with it are measured alike.

It costs a Python call per operator, so it is for measuring, not for timed runs. Tensors that
exist before it is entered are not counted: enter it before the model is built.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class TensorBytesMeter(TorchDispatchMode):
    """`with TensorBytesMeter() as meter: ...`; then `meter.peak` (bytes) and `meter.live`."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._counted: set[int] = set()

    def _count(self, tensor: torch.Tensor) -> None:
        if tensor.device.type == "meta" or tensor.is_sparse:
            return
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # wrapper subclasses (DTensor, ...) own no storage
            return
        key = storage._cdata  # the C++ storage's address: one entry per storage, however many views
        if key in self._counted:
            return
        size = storage.nbytes()
        self._counted.add(key)
        self.live += size
        weakref.finalize(storage, self._forget, key, size)

    def _forget(self, key: int, size: int) -> None:
        self._counted.discard(key)
        self.live -= size

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        result = func(*args, **(kwargs or {}))
        for value in tree_leaves(result):
            if isinstance(value, torch.Tensor):
                self._count(value)
        self.peak = max(self.peak, self.live)
        return result
