"""The real SmolLM2-135M-Instruct on CPU: a few short steps on verified GSM8K rows; the loss goes down.

Small on purpose (2 cores): three short problems, all in every step, so each step sees the
same batch and a falling loss means the model is learning it.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from spine import run_verify, write_jsonl

from train.config import TrainConfig
from train.errors import MethodNotApplicable
from train.trainer import Trainer

pytestmark = [pytest.mark.model, pytest.mark.slow]


def gsm8k_rows(corpora, count: int) -> list[dict]:
    """The `count` shortest of the first 60 GSM8K test problems as chat rows with a checkable final answer."""
    rows = [
        json.loads(line)
        for line in (corpora / "math" / "gsm8k_test_first400.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    ]
    rows.sort(key=lambda row: len(row["question"]) + len(row["solution"]))
    chats = []
    for row in rows[:count]:
        steps = re.sub(r"<<[^>]*>>", "", row["solution"]).split("####")[0].strip()
        answer = f"{steps}\nThe final answer is ${row['gold']}$."
        chats.append(
            {
                "id": row["id"],
                "messages": [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": answer}],
                "checks": {"math": {"answer": row["gold"]}},
            }
        )
    return chats


@pytest.fixture(scope="module")
def verified(corpora, tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    write_jsonl(root / "data.jsonl", gsm8k_rows(corpora, 3))
    result = run_verify(["run", "data.jsonl", "-o", "run", "--no-cache", "--workers", "0"], root)
    assert result.returncode == 0, result.stderr
    return root


def train(verified, smollm2_hf, method: str, **overrides) -> Trainer:
    values = {
        "data": verified / "run",
        "model": str(smollm2_hf),
        "output": verified / method,
        "method": method,
        "batch_size": 4,
        "max_length": 320,
        "max_steps": 5,
        "eval_fraction": 0.0,
        "warmup_ratio": 0.0,
        "schedule": "constant",
    } | overrides
    trainer = Trainer(TrainConfig(**values), console=Console(file=io.StringIO()))
    trainer.result = trainer.run()
    return trainer


def assert_learning(trainer: Trainer) -> None:
    losses = [loss for _, loss in trainer.result.loss_history]
    assert len(losses) == 5
    assert losses[-1] < 0.9 * losses[0], losses
    assert sum(b < a for a, b in zip(losses, losses[1:], strict=False)) >= 3, losses


def test_lora_on_smollm2_learns_and_the_adapter_reloads_and_generates(verified, smollm2_hf):
    from peft import PeftModel

    from train.reload import reply
    from verify.modelio import load_causal_lm, load_tokenizer

    trainer = train(verified, smollm2_hf, "lora", learning_rate=1e-3)
    assert_learning(trainer)
    assert trainer.result.trainable == 30 * 16 * (2 * (576 + 576) + 2 * (576 + 192) + 3 * (576 + 1536))

    model = PeftModel.from_pretrained(load_causal_lm(smollm2_hf), str(verified / "lora"))
    answer = reply(model, load_tokenizer(verified / "lora"), [{"role": "user", "content": "What is 2 + 3?"}], 8)
    assert answer.strip()


def test_ia3_on_smollm2_learns(verified, smollm2_hf):
    assert_learning(train(verified, smollm2_hf, "ia3", learning_rate=2e-2))


def test_bitfit_on_smollm2_stops_with_the_no_bias_message(verified, smollm2_hf):
    with pytest.raises(MethodNotApplicable, match=r"bitfit trains bias terms only, and this model \(llama\) has none"):
        train(verified, smollm2_hf, "bitfit")
    assert not (verified / "bitfit").exists()


def test_training_from_the_gguf_file(verified, smollm2_gguf):
    folder, gguf_file = smollm2_gguf
    trainer = train(
        verified, folder, "lora", gguf_file=gguf_file, max_steps=2, max_length=320, output=verified / "from-gguf"
    )
    assert all(loss == loss for _, loss in trainer.result.loss_history)  # finite, no NaN
    record = json.loads((verified / "from-gguf" / "training.json").read_text(encoding="utf-8"))
    assert record["base_model"] == {"path": str(folder), "gguf_file": gguf_file}
    assert (verified / "from-gguf" / "adapter_model.safetensors").exists()
