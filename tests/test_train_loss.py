"""The chunked head loss equals full-logit cross-entropy, in value and in every gradient."""

from __future__ import annotations

import pytest
import torch

from train.data import IGNORE
from train.errors import TrainError
from train.loss import CausalLMLoss, check_head_reproduces_logits, default_chunk_tokens, head_loss
from train.tiny import tiny_config


def build(arch: str, **overrides):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, 97, **overrides))
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


def batch(seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 97, (2, 23), generator=generator)
    targets = torch.roll(ids, -1, dims=1)
    targets[:, -1] = IGNORE
    targets[0, :5] = IGNORE  # a prompt
    targets[1, 10:14] = IGNORE
    return ids, targets


def reference(model, ids, targets):
    logits = model(input_ids=ids).logits.float()
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="sum"
    )


@pytest.mark.parametrize(("arch", "chunk"), [("llama", 1), ("llama", 7), ("qwen2", 7), ("qwen2", 4096)])
def test_chunked_loss_and_gradients_match_full_logits(arch, chunk):
    """llama ties the head to the embeddings (its gradient has two sources); qwen2 has its own head."""
    model = build(arch)
    ids, targets = batch()
    ours = CausalLMLoss(model, chunk)(ids, targets)
    ours.backward()
    ours_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    expected = reference(model, ids, targets)
    expected.backward()
    assert ours.item() == pytest.approx(expected.item(), rel=1e-6)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(ours_grads[name], parameter.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_frozen_head_gets_no_gradient_and_hidden_states_still_do():
    model = build("qwen2")
    model.lm_head.weight.requires_grad_(False)
    hidden = torch.randn(9, 64, requires_grad=True)
    targets = torch.randint(0, 97, (9,))
    head_loss(model.lm_head, hidden, targets, chunk=4).backward()
    assert model.lm_head.weight.grad is None
    expected_hidden = hidden.detach().clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model.lm_head(expected_hidden), targets, reduction="sum").backward()
    torch.testing.assert_close(hidden.grad, expected_hidden.grad)


def test_without_grad_the_loss_is_the_same_sum():
    model = build("llama")
    ids, targets = batch(2)
    with torch.no_grad():
        assert CausalLMLoss(model, 5)(ids, targets).item() == pytest.approx(
            reference(model, ids, targets).item(), rel=1e-6
        )


def test_default_chunk_keeps_a_chunk_of_logits_near_256_mebibytes():
    assert default_chunk_tokens(151936) == 294  # Qwen2.5's vocabulary
    assert default_chunk_tokens(49152) == 910  # SmolLM2's
    assert default_chunk_tokens(10**7) == 128


def test_models_that_post_process_logits_are_refused():
    from transformers import AutoModelForCausalLM, Gemma2Config

    config = Gemma2Config(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=0.5,
    )
    model = AutoModelForCausalLM.from_config(config)
    with pytest.raises(TrainError, match="post-processes its logits"):
        check_head_reproduces_logits(model, 97, "cpu")
    assert check_head_reproduces_logits(build("llama"), 97, "cpu") == 0.0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_a_chunk_holds_six_bytes_per_logit_at_its_peak(dtype):
    """The memory claim itself, counted by the tensor meter: full cross-entropy of the same
    tokens holds several fp32 copies of all their logits; the chunked loss one chunk's worth."""
    from train.memory import BYTES_PER_LOGIT
    from train.tensor_meter import TensorBytesMeter

    torch.manual_seed(0)
    vocab, width, tokens, chunk = 5000, 32, 256, 64
    head = torch.nn.Linear(width, vocab, bias=False).to(dtype).requires_grad_(False)
    hidden = torch.randn(tokens, width, dtype=dtype, requires_grad=True)
    targets = torch.randint(0, vocab, (tokens,))
    with TensorBytesMeter() as meter:
        before = meter.live
        ours = head_loss(head, hidden, targets, chunk)
        ours.backward()
    chunked_peak = meter.peak - before
    expected_hidden = hidden.detach().clone().requires_grad_(True)
    with TensorBytesMeter() as meter:
        before = meter.live
        expected = torch.nn.functional.cross_entropy(head(expected_hidden).float(), targets, reduction="sum")
        expected.backward()
    full_peak = meter.peak - before
    assert BYTES_PER_LOGIT * chunk * vocab <= chunked_peak <= 1.3 * BYTES_PER_LOGIT * chunk * vocab
    assert full_peak >= 10 * tokens * vocab
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(hidden.grad, expected_hidden.grad, rtol=0, atol=1e-6)
