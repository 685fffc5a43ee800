"""Packing: rows respect the capacity, positions restart, and each example's loss is unchanged by packing."""

from __future__ import annotations

import random

import pytest
import torch

from train.attention import probe_kernel, reference_kernel, use_sdpa_attention, use_varlen_attention
from train.data import IGNORE, ChatEncoder, encode_records
from train.loss import CausalLMLoss
from train.packing import block_causal_mask, collate, pack_best_fit, plan_rows
from train.tiny import arithmetic_rows, tiny_model_dir, tiny_tokenizer
from verify.records import Record


@pytest.fixture(scope="module")
def examples():
    tokenizer = tiny_tokenizer()
    rows = [Record.from_dict(row, i + 1) for i, row in enumerate(arithmetic_rows(12))]
    return encode_records(rows, ChatEncoder(tokenizer, 256))[0]


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def model(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    folder = tiny_model_dir(tmp_path_factory.mktemp(request.param), request.param)
    loaded = AutoModelForCausalLM.from_pretrained(str(folder))
    loaded.eval()
    return loaded


def test_best_fit_decreasing_respects_capacity_and_places_every_example_once():
    rng = random.Random(0)
    lengths = [rng.randint(1, 100) for _ in range(500)]
    rows = pack_best_fit(lengths, 128)
    assert sorted(i for row in rows for i in row) == list(range(500))
    assert all(sum(lengths[i] for i in row) <= 128 for row in rows)
    assert len(rows) <= sum(lengths) / 128 * 1.05 + 1  # nearly full rows
    with pytest.raises(ValueError, match="more than the row capacity"):
        pack_best_fit([10, 200], 128)


def test_epoch_order_is_seeded_and_changes_between_epochs(examples):
    plan = plan_rows(examples, True, 128, 2, seed=5)
    assert plan.micro_batches(0) == plan_rows(examples, True, 128, 2, seed=5).micro_batches(0)
    assert plan.micro_batches(0) != plan.micro_batches(1)
    assert sorted(i for batch in plan.micro_batches(1) for row in batch for i in row) == list(range(len(examples)))


def test_block_mask_confines_attention_to_each_segment_causally():
    mask = block_causal_mask(torch.tensor([[0, 0, 1, 1, 1, 2]]))[0, 0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [0, 0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0],
            [0, 0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


def test_collated_layouts_restart_positions_and_keep_padding_out_of_the_loss(examples):
    rows = [[0, 1, 2], [3]]
    block = collate(examples, rows, "block", pad_id=0)
    lengths = [len(examples[i]) for i in (0, 1, 2)]
    positions = block.inputs["position_ids"][0].tolist()
    assert positions[: sum(lengths)] == [p for n in lengths for p in range(n)]
    padding = block.inputs["targets"][1, len(examples[3]) :]
    assert bool((padding == IGNORE).all())
    assert block.n_tokens == sum(len(examples[i]) for i in (0, 1, 2, 3))
    assert block.n_targets == sum(examples[i].n_targets for i in (0, 1, 2, 3))

    varlen = collate(examples, rows, "varlen", pad_id=0)
    assert varlen.inputs["input_ids"].shape == (1, block.n_tokens)  # no padding at all
    bounds = [0]
    for i in (0, 1, 2, 3):
        bounds.append(bounds[-1] + len(examples[i]))
    assert varlen.inputs["cu_seq_lens"].tolist() == bounds


def per_example_losses(model, batch, examples_in_order):
    """Summed target loss of each example, from one forward pass over a packed batch."""
    loss = CausalLMLoss(model, 64)
    with torch.no_grad():
        inputs = {k: v for k, v in batch.inputs.items() if k not in ("targets", "target_positions")}
        hidden = loss.hidden_states(**inputs)
        logits = model.get_output_embeddings()(hidden).float()
        token_losses = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), batch.inputs["targets"].flatten(), ignore_index=IGNORE, reduction="none"
        ).view(batch.inputs["targets"].shape)
    flat = token_losses.flatten()
    results, cursor = [], 0
    widths = token_losses.shape[1]
    for row_index, row in enumerate(examples_in_order):
        cursor = row_index * widths if batch.inputs["input_ids"].shape[0] > 1 else cursor
        for example in row:
            results.append(flat[cursor : cursor + len(example)].sum().item())
            cursor += len(example)
    return results


def alone_losses(model, examples, indices):
    use_sdpa_attention(model)
    return [per_example_losses(model, collate(examples, [[i]], "padded", 0), [[examples[i]]])[0] for i in indices]


def test_packing_leaves_each_examples_loss_unchanged_with_the_block_mask(model, examples):
    rows = [[0, 1, 2], [3, 4]]
    use_sdpa_attention(model)
    packed = per_example_losses(model, collate(examples, rows, "block", 0), [[examples[i] for i in r] for r in rows])
    assert packed == pytest.approx(alone_losses(model, examples, [0, 1, 2, 3, 4]), rel=1e-5, abs=1e-5)


def test_packing_leaves_each_examples_loss_unchanged_on_the_varlen_path(model, examples):
    rows = [[0, 1, 2], [3, 4]]
    expected = alone_losses(model, examples, [0, 1, 2, 3, 4])
    use_varlen_attention(model, "cpu")
    try:
        flat = [[examples[i] for r in rows for i in r]]
        packed = per_example_losses(model, collate(examples, rows, "varlen", 0), flat)
    finally:
        use_sdpa_attention(model)
    assert packed == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_packing_without_the_mask_leaks_between_examples(model, examples):
    """The trap this module guards against: restarted positions alone do not separate examples."""
    rows = [[0, 1, 2]]
    use_sdpa_attention(model)
    batch = collate(examples, rows, "block", 0)
    batch.inputs["attention_mask"] = torch.ones_like(batch.inputs["input_ids"])  # plain 2-D mask: no separation
    leaked = per_example_losses(model, batch, [[examples[i] for i in rows[0]]])
    expected = alone_losses(model, examples, [0, 1, 2])
    assert leaked[0] == pytest.approx(expected[0], rel=1e-5)  # the first example sees nothing before it
    assert abs(leaked[1] - expected[1]) > 1e-3 and abs(leaked[2] - expected[2]) > 1e-3


def test_a_varlen_kernel_is_trusted_only_after_matching_the_reference():
    assert probe_kernel(reference_kernel, "cpu") is None
    wrong_scale = lambda q, k, v, cu, length, scale: reference_kernel(q, k, v, cu, length, 2 * scale)  # noqa: E731
    assert probe_kernel(wrong_scale, "cpu").startswith("differs from the reference by")

    def broken(*args):
        raise RuntimeError("no kernel for this device\nlong details")

    assert probe_kernel(broken, "cpu") == "RuntimeError: no kernel for this device"
