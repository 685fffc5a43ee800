"""The loop's contracts: vouched data only, resume = uninterrupted run, accumulation = bigger batch, config files."""

from __future__ import annotations

import io
import json
import shutil

import pytest
import torch
from rich.console import Console

from train.checkpoint import list_checkpoints
from train.config import TrainConfig, build_config, read_config_file
from train.errors import TrainError
from train.tiny import arithmetic_rows, tiny_model_dir, write_vouched_dir
from train.trainer import Trainer, lr_factor


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    return {
        "model": tiny_model_dir(root / "model", "qwen2"),
        "run": write_vouched_dir(arithmetic_rows(24), root / "run"),
        "root": root,
    }


def config(workspace, name: str, **overrides) -> TrainConfig:
    values = {
        "data": workspace["run"],
        "model": str(workspace["model"]),
        "output": workspace["root"] / name,
        "batch_size": 4,
        "max_steps": 4,
        "max_length": 128,
        "learning_rate": 5e-3,
        "eval_fraction": 0.1,
    } | overrides
    return TrainConfig(**values)


def run(cfg: TrainConfig) -> Trainer:
    trainer = Trainer(cfg, console=Console(file=io.StringIO()))
    trainer.result = trainer.run()
    return trainer


def losses(trainer: Trainer) -> list[float]:
    assert [step for step, _ in trainer.result.loss_history] == list(range(1, len(trainer.result.loss_history) + 1))
    return [loss for _, loss in trainer.result.loss_history]


def trained_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in trainer.model.named_parameters() if p.requires_grad}


def test_a_changed_row_stops_training_naming_its_line(workspace):
    tampered = workspace["root"] / "tampered"
    shutil.copytree(workspace["run"], tampered)
    lines = (tampered / "kept.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("The answer is", "The answer was")
    (tampered / "kept.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TrainError, match=r"kept.jsonl:3: this row is not vouched for by manifest.json"):
        run(config(workspace, "t1", data=tampered))


def test_a_folder_that_is_not_a_run_output_is_refused(workspace, tmp_path):
    (tmp_path / "kept.jsonl").write_text(json.dumps(arithmetic_rows(1)[0]) + "\n", encoding="utf-8")
    with pytest.raises(TrainError, match="has no manifest.json: it is not a `verify run` output directory"):
        run(config(workspace, "t2", data=tmp_path))


def test_resuming_from_a_checkpoint_gives_the_uninterrupted_result(workspace):
    straight = run(config(workspace, "straight", save_every=2))
    assert [p.name for p in list_checkpoints(workspace["root"] / "straight")] == ["step-0000002"]

    resumed_dir = workspace["root"] / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    shutil.copytree(
        workspace["root"] / "straight" / "checkpoints" / "step-0000002", resumed_dir / "checkpoints" / "step-0000002"
    )
    resumed = run(config(workspace, "resumed", save_every=2, resume="latest"))

    assert losses(resumed) == pytest.approx(losses(straight), rel=1e-6)
    for name, value in trained_state(straight).items():
        torch.testing.assert_close(trained_state(resumed)[name], value, rtol=0, atol=0, msg=name)


def test_resuming_with_other_options_is_refused(workspace):
    run(config(workspace, "first", save_every=2, max_steps=3))
    with pytest.raises(TrainError, match=r"cannot resume .*\(learning_rate: 0.005 -> 0.001\)"):
        run(config(workspace, "first", save_every=2, max_steps=3, learning_rate=1e-3, resume="latest"))


def test_gradient_accumulation_equals_the_bigger_batch(workspace):
    options = {"packing": False, "method_options": {"dropout": 0.0}, "max_steps": 3}
    big = run(config(workspace, "big", batch_size=4, grad_accum=1, **options))
    accumulated = run(config(workspace, "accumulated", batch_size=2, grad_accum=2, **options))
    assert losses(accumulated) == pytest.approx(losses(big), rel=1e-5)
    for name, value in trained_state(big).items():
        torch.testing.assert_close(trained_state(accumulated)[name], value, rtol=1e-4, atol=1e-6, msg=name)


def test_the_output_folder_is_not_overwritten_by_accident(workspace):
    run(config(workspace, "kept", max_steps=1))
    with pytest.raises(TrainError, match="is not empty: pass --overwrite, or --resume latest"):
        run(config(workspace, "kept", max_steps=1))
    run(config(workspace, "kept", max_steps=1, overwrite=True))


def test_training_json_records_the_data_it_trained_on(workspace):
    trainer = run(config(workspace, "record", max_steps=2))
    record = json.loads((workspace["root"] / "record" / "training.json").read_text(encoding="utf-8"))
    manifest = json.loads((workspace["run"] / "manifest.json").read_text(encoding="utf-8"))
    assert record["data"]["kept_sha256"] == manifest["kept"]["sha256"]
    assert record["method"]["name"] == "lora" and record["method"]["options"]["r"] == 16
    assert record["results"]["steps"] == 2 and len(record["results"]["loss_history"]) == 2
    assert record["results"]["eval_history"][0][0] == 0  # the held-out loss before training
    assert record["results"]["plan"]["trainable"] == trainer.result.trainable


def test_learning_rate_schedule_warms_up_then_decays():
    assert [lr_factor(s, 10, 2, "cosine") for s in (0, 1, 2)] == [0.5, 1.0, 1.0]
    assert lr_factor(9, 10, 2, "cosine") == pytest.approx(0.5 * (1 + torch.cos(torch.tensor(torch.pi * 7 / 8)).item()))
    assert lr_factor(6, 10, 2, "linear") == pytest.approx(0.5)
    assert lr_factor(9, 10, 0, "constant") == 1.0


def test_config_file_values_are_overridden_by_flags(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(
        "model: m\noutput: o\nbatch_size: 2\nmethod: ia3\nmethod_options:\n  target_modules: [k_proj]\n",
        encoding="utf-8",
    )
    cfg = build_config(
        read_config_file(path), {"data": "d", "batch_size": 16, "method_options": {"feedforward_modules": []}}
    )
    assert (cfg.batch_size, cfg.method, cfg.model) == (16, "ia3", "m")
    assert cfg.method_options == {"target_modules": ["k_proj"], "feedforward_modules": []}


def test_unknown_config_keys_are_named_with_the_valid_ones(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"model": "m", "output": "o", "lerning_rate": 1e-4}), encoding="utf-8")
    with pytest.raises(TrainError, match=r"unknown option 'lerning_rate' \(valid: .*learning_rate"):
        build_config(read_config_file(path), {"data": "d"})


def test_each_step_is_reported_with_the_learning_rate_it_used(workspace, monkeypatch):
    from train.progress import StepProgress

    reported = []
    update = StepProgress.update

    def record(self, step, loss, lr, tokens_per_second, memory):
        reported.append((step, lr))
        update(self, step, loss, lr, tokens_per_second, memory)

    monkeypatch.setattr(StepProgress, "update", record)
    # No held-out set: without evaluation after every step, each loss is reported one step late.
    run(config(workspace, "lr", max_steps=4, eval_fraction=0.0, warmup_ratio=0.5))
    expected = [(s + 1, pytest.approx(5e-3 * lr_factor(s, 4, 2, "cosine"))) for s in range(4)]
    assert reported == expected


def test_the_plan_resolves_precision_as_training_does(workspace, monkeypatch):
    from train.plan import plan_for

    values = {"model": str(workspace["model"]), "batch_size": 2, "max_length": 64}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    _, description = plan_for(values, {})
    assert ", fp16 weights," in description  # a GPU without bf16 trains in fp16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    fp32_rows, description = plan_for(values, {})
    assert ", fp32 weights," in description
    fp16_rows, description = plan_for(values | {"precision": "fp16"}, {})
    assert ", fp16 weights," in description  # an explicit precision is planned as asked
    lora = {row.method: row for row in fp16_rows}["lora"], {row.method: row for row in fp32_rows}["lora"]
    assert lora[0].state_bytes < lora[1].state_bytes


@pytest.mark.parametrize(
    "variant",
    [
        {"gradient_checkpointing": True},
        {"gradient_checkpointing": True, "checkpoint_every": 2},
        {"gradient_checkpointing": True, "compile": True},
    ],
    ids=["checkpointing", "every-2nd-layer", "compiled-and-checkpointed"],
)
def test_checkpointing_and_compiling_train_the_same_weights(workspace, variant):
    """Recomputation and compiled layers change speed and memory, never the result."""
    options = {"packing": True, "method_options": {"dropout": 0.0}, "max_steps": 3, "eval_fraction": 0.0}
    name = "-".join(f"{key}-{value}" for key, value in variant.items())
    plain = run(config(workspace, f"plain-for-{name}", gradient_checkpointing=False, **options))
    other = run(config(workspace, name, **options, **variant))
    assert losses(other) == pytest.approx(losses(plain), rel=1e-4)
    for key, value in trained_state(plain).items():
        torch.testing.assert_close(trained_state(other)[key], value, rtol=1e-3, atol=1e-5, msg=key)


@pytest.mark.parametrize("method", ["lora", "loha", "lokr", "adalora", "vera", "dora"])
def test_adapters_skip_peft_input_casts_under_autocast_with_the_same_result(workspace, method, monkeypatch):
    """Under bf16 autocast peft would copy each adapter's input to fp32 and autocast would copy it
    back: without the round trip the losses and weights are the same, and the peak is lower where
    the copies were kept for backward. DoRA keeps its casts (its weight norm needs them)."""
    import train.trainer as trainer_module
    from train.tensor_meter import TensorBytesMeter

    options = {
        "method": method,
        "precision": "bf16",
        "packing": False,
        "method_options": {"dropout": 0.0} if method in ("lora", "dora", "adalora") else {},
        "max_steps": 2,
        "eval_fraction": 0.0,
    }
    with TensorBytesMeter() as meter:
        lean = run(config(workspace, f"lean-{method}", **options))
    lean_peak = meter.peak
    flags = [
        getattr(m, "cast_input_dtype_enabled", True) for m in lean.model.modules() if hasattr(m, "_cast_input_dtype")
    ]
    assert flags and any(flags) == (method == "dora")
    monkeypatch.setattr(trainer_module, "keep_adapter_inputs_in_compute_dtype", lambda model: None)
    with TensorBytesMeter() as meter:
        casting = run(config(workspace, f"casting-{method}", **options))
    assert losses(lean) == losses(casting)
    for key, value in trained_state(casting).items():
        torch.testing.assert_close(trained_state(lean)[key], value, rtol=0, atol=0, msg=key)
    if method in ("lora", "lokr", "adalora"):
        assert lean_peak < meter.peak
