"""The tensor-bytes meter counts each storage once, from creation to release, forward and backward."""

from __future__ import annotations

import torch

from train.tensor_meter import TensorBytesMeter


def test_counts_storages_once_and_forgets_them_when_freed():
    with TensorBytesMeter() as meter:
        a = torch.zeros(1000)  # 4,000 bytes
        view = a[10:20]  # a view: no new storage
        b = a + 1
        assert meter.live == 8000
        del b
        assert meter.live == 4000
        assert meter.peak == 8000
        del a, view
        assert meter.live == 0


def test_sees_the_backward_pass_and_ignores_tensors_made_before_it():
    weight = torch.ones(100, 100, requires_grad=True)  # 40,000 bytes, made outside: not counted
    with TensorBytesMeter() as meter:
        assert meter.live == 0
        (weight @ weight).sum().backward()  # product 40,000, then a gradient of 40,000 that stays
        assert weight.grad is not None
        assert meter.live >= 40000
        assert meter.peak >= 80000
