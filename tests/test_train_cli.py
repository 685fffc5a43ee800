"""`verify train` and `verify compare-methods` end to end, on the output of the real `verify run`."""

from __future__ import annotations

import json

import pytest
from spine import read_jsonl, run_verify, write_jsonl

from train.tiny import arithmetic_rows, tiny_model_dir


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """A real `verify run` over 16 arithmetic rows, one of them wrong (rejected by the math check)."""
    root = tmp_path_factory.mktemp("cli")
    rows = arithmetic_rows(16)
    rows[5]["messages"][-1]["content"] = "The answer is 1000."
    write_jsonl(root / "data.jsonl", rows)
    result = run_verify(["run", "data.jsonl", "-o", "run", "--no-cache", "--workers", "0"], root)
    assert result.returncode == 1, result.stderr  # the gate fails: one row was rejected
    assert len(read_jsonl(root / "run" / "kept.jsonl")) == 15
    return {
        "root": root,
        "run": root / "run",
        "llama": tiny_model_dir(root / "llama", "llama"),
        "qwen2": tiny_model_dir(root / "qwen2", "qwen2"),
    }


TRAIN_FLAGS = ["--max-steps", "2", "--batch-size", "4", "--max-length", "128"]


def test_train_on_a_real_run_then_reload_the_adapter_and_generate(verified):
    root = verified["root"]
    result = run_verify(["train", "run", "--model", str(verified["llama"]), "-o", "adapter", *TRAIN_FLAGS], root)
    assert result.returncode == 0, result.stderr
    assert "15 of 15 rows become examples" in result.stderr
    assert "saved lora to adapter" in result.stderr

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.reload import reply

    base = AutoModelForCausalLM.from_pretrained(str(verified["llama"]))
    model = PeftModel.from_pretrained(base, str(root / "adapter"))
    tokenizer = AutoTokenizer.from_pretrained(str(root / "adapter"))
    assert isinstance(
        reply(model, tokenizer, [{"role": "user", "content": "What is 2 + 3?"}], 4), str
    )  # generation runs
    record = json.loads((root / "adapter" / "training.json").read_text(encoding="utf-8"))
    assert record["data"]["kept_rows"] == 15 and record["data"]["verifiers"][0]["name"] == "math"


def test_a_tampered_run_stops_training_with_exit_code_2(verified, tmp_path):
    import shutil

    tampered = tmp_path / "run"
    shutil.copytree(verified["run"], tampered)
    with open(tampered / "kept.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(arithmetic_rows(1, seed=9)[0]) + "\n")
    result = run_verify(
        ["train", str(tampered), "--model", str(verified["llama"]), "-o", "out", *TRAIN_FLAGS], tmp_path
    )
    assert result.returncode == 2
    assert "kept.jsonl:16: this row is not vouched for by manifest.json" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bad_flags_and_method_options_exit_2_with_the_fix(verified, tmp_path):
    result = run_verify(
        ["train", str(verified["run"]), "--model", str(verified["llama"]), "-o", "o", "-O", "rank=8"], tmp_path
    )
    assert result.returncode == 2 and "lora has no option 'rank'" in result.stderr
    result = run_verify(
        ["train", str(verified["run"]), "--model", str(verified["qwen2"]), "-o", "o", "--method", "nope"], tmp_path
    )
    assert result.returncode == 2 and "unknown method 'nope'" in result.stderr


def test_list_methods_and_plan(verified, tmp_path):
    listing = run_verify(["train", "--list-methods"], tmp_path)
    assert listing.returncode == 0
    names = [line.split()[0] for line in listing.stdout.splitlines() if line and not line.startswith(" ")]
    assert names == [
        "prompt-tuning",
        "prefix-tuning",
        "bitfit",
        "lora",
        "dora",
        "qlora",
        "ia3",
        "adalora",
        "loha",
        "lokr",
        "vera",
        "full",
    ]

    plan = run_verify(
        ["train", "--plan", "--model", str(verified["llama"]), "--batch-size", "2", "--max-length", "64"], tmp_path
    )
    assert plan.returncode == 0, plan.stderr
    # tiny llama: 2 layers, hidden 64, kv 32, mlp 128; LoRA r=16 on all 7 projections: 16*(in+out) each
    per_layer = 16 * ((64 + 64) + (64 + 32) * 2 + (64 + 64) + (64 + 128) * 2 + (128 + 64))
    assert f"{2 * per_layer / 1000:.2f}K" in plan.stdout
    assert "bitfit: not applicable: bitfit trains bias terms only" in plan.stdout


def test_compare_methods_writes_markdown_json_and_png(verified):
    root = verified["root"]
    args = [
        "compare-methods",
        "run",
        "--model",
        str(verified["qwen2"]),
        "--methods",
        "lora,ia3,bitfit",
        "-o",
        "cmp",
        "-O",
        "lora.r=4",
        *TRAIN_FLAGS,
        "--eval-fraction",
        "0.2",
    ]
    result = run_verify(args, root)
    assert result.returncode == 0, result.stderr
    summary = json.loads((root / "cmp" / "compare.json").read_text(encoding="utf-8"))
    rows = {row["method"]: row for row in summary["methods"]}
    assert list(rows) == ["lora", "ia3", "bitfit"] and all(row["status"] == "trained" for row in rows.values())
    assert rows["lora"]["trainable_parameters"] < 16 * 64 * 100  # r=4 reached the method
    assert all(len(row["eval_history"]) >= 2 and row["eval_loss"] > 0 for row in rows.values())
    table = (root / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert table.startswith(
        "| method | family | trainable | peak memory | estimate | tokens/s | train loss | held-out loss |"
    )
    assert (root / "cmp" / "compare.png").stat().st_size > 1000
    assert (root / "cmp" / "bitfit" / "bitfit.safetensors").exists()


@pytest.mark.slow
def test_two_process_ddp_equals_one_process_with_gradient_accumulation(verified, tmp_path):
    """torchrun with 2 CPU processes (gloo DDP through accelerate): each process takes every other
    micro-batch of a step, the step's token count normalises the loss, so the result must equal one
    process accumulating both micro-batches. Gradient checkpointing is on: layers recomputed
    inside DDP's backward pass still reduce their gradients once."""
    import subprocess
    import sys

    from safetensors.torch import load_file
    from spine import cli_env

    flags = [
        "--model",
        str(verified["qwen2"]),
        "--max-steps",
        "3",
        "--batch-size",
        "2",
        "--max-length",
        "128",
        "-O",
        "dropout=0",
        "--gradient-checkpointing",
    ]
    single = run_verify(["train", str(verified["run"]), "-o", "single", "--grad-accum", "2", *flags], tmp_path)
    assert single.returncode == 0, single.stderr
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "verify.cli",
    ]
    ddp = subprocess.run(
        [*launcher, "train", str(verified["run"]), "-o", "ddp", *flags],
        cwd=tmp_path,
        env=cli_env(tmp_path, OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "3 steps of 2x1x2 rows" in ddp.stderr  # 2 processes took part
    assert ddp.stderr.count("saved lora to ddp") == 1  # only the main process writes
    one, two = (
        load_file(str(tmp_path / "single" / "adapter_model.safetensors")),
        load_file(str(tmp_path / "ddp" / "adapter_model.safetensors")),
    )
    assert set(one) == set(two)
    for name in one:
        torch_close(one[name], two[name])


def torch_close(a, b):
    import torch

    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
