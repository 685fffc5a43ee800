"""Every method trains a tiny random-init model on CPU and what it saves reloads to the same model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from rich.console import Console

from train.config import TrainConfig
from train.errors import MethodNotApplicable, TrainError
from train.methods import METHODS
from train.methods.base import FAMILIES
from train.methods.bitfit import load_bitfit
from train.tiny import arithmetic_rows, tiny_model_dir, write_vouched_dir
from train.trainer import Trainer

PEFT_METHODS = ["prompt-tuning", "prefix-tuning", "lora", "dora", "ia3", "adalora", "loha", "lokr", "vera"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods")
    return {
        "llama": tiny_model_dir(root / "llama", "llama"),
        "qwen2": tiny_model_dir(root / "qwen2", "qwen2"),
        "run": write_vouched_dir(arithmetic_rows(24), root / "run"),
        "root": root,
    }


def train(workspace, method: str, arch: str = "llama", **overrides) -> Trainer:
    values = {
        "data": workspace["run"],
        "model": str(workspace[arch]),
        "output": workspace["root"] / f"out-{method}-{arch}-{len(overrides)}",
        "method": method,
        "batch_size": 4,
        "max_steps": 2,
        "max_length": 128,
        "eval_fraction": 0.1,
    } | overrides
    trainer = Trainer(TrainConfig(**values), console=Console(file=io.StringIO()))
    trainer.result = trainer.run()
    return trainer


def probe(model) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([[5, 17, 42, 8, 99, 3]])).logits.float()


def base_model(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(folder))


def test_the_registry_holds_the_lectures_methods_each_with_documented_options():
    assert set(METHODS) == {*PEFT_METHODS, "qlora", "bitfit", "full"}
    for method in METHODS.values():
        assert method.family in FAMILIES and method.description and method.default_learning_rate > 0
        info = method.describe()
        assert info["options"] == {name: field.default for name, field in method.Options.model_fields.items()}
        for name, field in method.Options.model_fields.items():
            assert field.default is not None or "default" in (field.description or ""), f"{method.name}.{name}"


@pytest.mark.parametrize("method", PEFT_METHODS)
def test_peft_methods_train_and_reload_with_peft_model_from_pretrained(workspace, method):
    from peft import PeftModel

    trainer = train(workspace, method)
    result = trainer.result
    assert result.steps == 2 and len(result.loss_history) == 2 and result.trainable > 0
    assert (result.output / "adapter_config.json").exists() and (result.output / "training.json").exists()
    reloaded = PeftModel.from_pretrained(base_model(workspace["llama"]), str(result.output))
    torch.testing.assert_close(probe(reloaded), probe(trainer.model), rtol=1e-5, atol=1e-5)


def test_bitfit_trains_only_biases_and_reloads_with_its_own_loader(workspace):
    trainer = train(workspace, "bitfit", arch="qwen2")
    trained = dict(trainer.model.named_parameters())
    assert trainer.result.trainable == sum(p.numel() for n, p in trained.items() if n.endswith(".bias"))
    base = base_model(workspace["qwen2"])
    before = probe(base)
    reloaded = load_bitfit(base, trainer.result.output)
    torch.testing.assert_close(probe(reloaded), probe(trainer.model), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(before, probe(reloaded))  # the biases did move
    assert sorted(p.name for p in trainer.result.output.iterdir()) == sorted(
        [
            "bitfit.safetensors",
            "bitfit_config.json",
            "chat_template.jinja",
            "tokenizer.json",
            "tokenizer_config.json",
            "training.json",
        ]
    )


def test_full_fine_tuning_saves_a_plain_model(workspace):
    trainer = train(workspace, "full")
    assert trainer.result.trainable == trainer.result.total
    torch.testing.assert_close(probe(base_model(trainer.result.output)), probe(trainer.model), rtol=1e-5, atol=1e-5)


def test_lora_merge_saves_a_plain_model_equal_to_base_plus_adapter(workspace):
    trainer = train(workspace, "lora", merge=True, learning_rate=1e-2)
    merged = base_model(trainer.result.output / "merged")
    torch.testing.assert_close(probe(merged), probe(trainer.model), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(probe(merged), probe(base_model(workspace["llama"])))


def test_bitfit_on_a_model_without_biases_stops_before_any_work(workspace):
    output = workspace["root"] / "bitfit-llama"
    with pytest.raises(MethodNotApplicable, match=r"bitfit trains bias terms only, and this model \(llama\) has none"):
        Trainer(TrainConfig(data=workspace["run"], model=str(workspace["llama"]), output=output, method="bitfit")).run()
    assert not output.exists()


def test_qlora_without_cuda_stops_with_a_clear_message(workspace, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(MethodNotApplicable, match="qlora needs a CUDA GPU"):
        Trainer(
            TrainConfig(
                data=workspace["run"], model=str(workspace["llama"]), output=workspace["root"] / "q", method="qlora"
            )
        ).run()


def test_qlora_merge_is_refused_before_any_work(workspace, monkeypatch):
    """4-bit weights cannot take the merge: refused by the combination check, not after training."""
    import importlib.util

    qlora = METHODS["qlora"]
    assert not qlora.mergeable and not qlora.describe()["mergeable"]
    output = workspace["root"] / "qlora-merge"
    config = TrainConfig(
        data=workspace["root"] / "no-such-run", model="no-such-model", output=output, method="qlora", merge=True
    )
    # On this machine the CUDA check may come first; either way nothing is read or written.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(MethodNotApplicable, match="qlora needs a CUDA GPU"):
        Trainer(config).run()
    # On a machine that passes the machine check, the merge refusal itself stops the run with its own reason.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "bitsandbytes" else find_spec(name, *a)
    )
    with pytest.raises(TrainError, match=r"qlora cannot merge into 4-bit weights .*merge_and_unload\): drop --merge"):
        Trainer(config).run()
    assert not output.exists()


@pytest.mark.parametrize(
    ("method", "overrides", "message"),
    [
        ("prompt-tuning", {"packing": True}, "prompt-tuning prepends virtual tokens to every row"),
        ("prefix-tuning", {"gradient_checkpointing": True}, "drop --gradient-checkpointing"),
        ("prefix-tuning", {"merge": True}, "nothing to merge"),
    ],
)
def test_impossible_combinations_stop_before_any_work(workspace, method, overrides, message):
    config = TrainConfig(
        data=workspace["run"], model=str(workspace["llama"]), output=workspace["root"] / "x", method=method, **overrides
    )
    with pytest.raises(TrainError, match=message):
        Trainer(config).run()


def test_unknown_method_options_list_the_valid_ones():
    with pytest.raises(
        TrainError, match=r"lora has no option 'rank' \(its options: r, alpha, dropout, target_modules, rslora\)"
    ):
        TrainConfig(data="d", model="m", output="o", method="lora", method_options={"rank": 8})


def test_adalora_adds_its_orthogonality_penalty_and_reallocates_ranks(workspace):
    trainer = train(workspace, "adalora", max_steps=3, method_options={"delta_t": 1})
    penalty = METHODS["adalora"].extra_loss(trainer.model)
    assert penalty is not None and penalty.item() > 0 and penalty.requires_grad


def test_the_docs_list_every_method_and_every_option():
    """docs/train.md is pasted into the README: it must not drift from the code."""
    from train.config import TrainConfig

    text = (Path(__file__).resolve().parent.parent / "docs" / "train.md").read_text(encoding="utf-8")
    for name in METHODS:
        assert f"| `{name}` |" in text, name
    for name in TrainConfig.model_fields:
        if name not in ("data", "model", "output", "gguf_file", "method_options"):
            assert f"--{name.replace('_', '-')}" in text, name
    for name, method in METHODS.items():
        assert f"| {method.default_learning_rate:g} |" in text, name
