"""Shared by bench/train_gpu.py and bench/train_cpu.py: the data, the models, and one runner each for ours and TRL.

Both trainers get the same random-init model (same seed, same config), the same
pre-tokenized examples, the same LoRA config, optimizer (AdamW), learning rate (constant),
batch (rows x max length), precision and completion-only loss. Measured per run:

- tokens/s: real (non-padding) input tokens of every step after the first, over the wall time
  from the end of step 1 to the end of the last step (the device synchronised at both ends);
- peak memory: the largest per-step peak (`torch.cuda.max_memory_allocated`, reset after each
  step; on CPU the resident-set sampler of train.memory). The previous run's objects are
  collected before each run (they sit in reference cycles, and CUDA's counter would include
  them); what is still allocated at the start is recorded beside the run;
- the loss of every step.

The examples are real SFT text: IFEval prompts with real model responses (single turn) and
GSM8K problems with their reference solutions (one to three problems per conversation, so
multi-turn), tokenized through train.data with SmolLM2's chat template; targets are the
assistant turns. A random-init model does not care which tokenizer made the ids.
"""

from __future__ import annotations

import gc
import gzip
import json
import random
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the device machine runs the repository without installing it

from train.data import IGNORE, Example  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"


# ----------------------------------------------------------------------------------- data


def conversation_rows(corpora: Path, ifeval_rows: int, gsm8k_groups: int, seed: int = 0) -> list[dict[str, Any]]:
    rows = []
    with open(corpora / "ifeval" / "responses.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item.get("response"):
                rows.append(
                    {
                        "id": f"ifeval-{len(rows)}",
                        "messages": [
                            {"role": "user", "content": item["prompt"]},
                            {"role": "assistant", "content": item["response"]},
                        ],
                    }
                )
            if len(rows) >= ifeval_rows:
                break
    problems = [
        json.loads(line)
        for line in (corpora / "math" / "gsm8k_test_first400.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    rng = random.Random(seed)
    for group in range(gsm8k_groups):
        messages = []
        for problem in rng.sample(problems, rng.randint(1, 3)):
            steps = re.sub(r"<<[^>]*>>", "", problem["solution"]).split("####")[0].strip()
            messages += [
                {"role": "user", "content": problem["question"]},
                {"role": "assistant", "content": f"{steps}\nThe final answer is ${problem['gold']}$."},
            ]
        rows.append({"id": f"gsm8k-{group}", "messages": messages})
    random.Random(seed).shuffle(rows)
    return rows


def build_examples(
    corpora: Path, tokenizer: Any, max_length: int, ifeval_rows: int, gsm8k_groups: int
) -> list[Example]:
    from train.data import ChatEncoder, encode_records
    from verify.records import Record

    records = [
        Record.from_dict(row, i + 1) for i, row in enumerate(conversation_rows(corpora, ifeval_rows, gsm8k_groups))
    ]
    examples, _ = encode_records(records, ChatEncoder(tokenizer, max_length, "drop"))
    return examples


def save_examples(examples: list[Example], path: Path) -> None:
    """ids plus target spans ([start, end) positions of target tokens): compact, and gzip does the rest."""
    items = []
    for example in examples:
        flags = completion_mask(example)  # token i is a target iff targets[i-1] is set
        spans, start = [], None
        for i, flag in enumerate(flags + [0]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                spans.append([start, i])
                start = None
        items.append({"id": example.id, "ids": example.input_ids, "spans": spans})
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(items, handle)


def load_examples(path: Path) -> list[Example]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        items = json.load(handle)
    examples = []
    for line, item in enumerate(items, start=1):
        ids = item["ids"]
        is_target = [False] * len(ids)
        for start, end in item["spans"]:
            is_target[start:end] = [True] * (end - start)
        targets = [ids[i + 1] if is_target[i + 1] else IGNORE for i in range(len(ids) - 1)] + [IGNORE]
        examples.append(Example(item["id"], line, ids, targets))
    return examples


def examples_from(path: Path) -> list[Example]:
    """The pre-tokenized benchmark examples in `path`, built first (corpora + SmolLM2's tokenizer) when missing."""
    if not path.exists():
        from verify.modelio import load_tokenizer, smollm2_hf_dir

        examples = build_examples(CORPORA, load_tokenizer(smollm2_hf_dir()), 1024, ifeval_rows=1600, gsm8k_groups=300)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_examples(examples, path)
        print(f"built {len(examples)} examples ({sum(len(e) for e in examples)} tokens) -> {path}", flush=True)
    return load_examples(path)


def completion_mask(example: Example) -> list[int]:
    """TRL's per-token mask: 1 where the token is a completion (assistant) token."""
    return [0] + [int(t != IGNORE) for t in example.targets[:-1]]


# ----------------------------------------------------------------------------------- models


def qwen25_05b_config(**overrides: Any) -> Any:
    """Qwen2.5-0.5B's published shape (random init: no weights travel)."""
    from transformers import Qwen2Config

    shape = {
        "vocab_size": 151936,
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
        "use_cache": False,
    }
    shape.update(overrides)
    return Qwen2Config(**shape)


def tiny_qwen2_config() -> Any:
    """The same architecture at CPU size (vocabulary large enough for SmolLM2's token ids)."""
    return qwen25_05b_config(
        vocab_size=49152,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    )


def narrow_qwen2_config() -> Any:
    """Qwen2.5-0.5B's 24 layers and adapters at width 64: the same number of operators per step
    with almost no arithmetic in each, so per-operator overhead dominates, as it does on a GPU
    for small models (where a kernel launch costs more than the kernel's work)."""
    return qwen25_05b_config(
        vocab_size=49152, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2
    )


def random_model(config: Any, dtype: Any, device: str, seed: int = 0) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.config.use_cache = False
    return model


# ----------------------------------------------------------------------------------- settings


class Settings:
    """One comparison's shared knobs."""

    def __init__(self, **values: Any):
        self.batch = values.get("batch", 8)
        self.max_length = values.get("max_length", 1024)
        self.steps = values.get("steps", 30)
        self.lr = values.get("lr", 2e-4)
        self.rank = values.get("rank", 16)
        self.alpha = values.get("alpha", 32)
        self.precision = values.get("precision", "bf16")
        self.seed = values.get("seed", 0)
        self.device = values.get("device", "cuda")

    def describe(self) -> dict[str, Any]:
        return dict(vars(self))


# ----------------------------------------------------------------------------------- ours


def run_ours(
    examples: list[Example],
    make_model: Callable[[], Any],
    settings: Settings,
    *,
    packing: bool,
    checkpointing: bool,
    compile_layers: bool = False,
    attention: str = "auto",
    checkpoint_every: int = 1,
) -> dict[str, Any]:
    from rich.console import Console

    from train.config import TrainConfig
    from train.trainer import Trainer

    with tempfile.TemporaryDirectory() as output:
        config = TrainConfig(
            data=Path("pre-tokenized"),
            model="random-init",
            output=Path(output),
            method="lora",
            method_options={
                "r": settings.rank,
                "alpha": settings.alpha,
                "dropout": 0.0,
                "target_modules": "all-linear",
            },
            batch_size=settings.batch,
            max_length=settings.max_length,
            max_steps=settings.steps,
            learning_rate=settings.lr,
            warmup_ratio=0.0,
            schedule="constant",
            eval_fraction=0.0,
            precision=settings.precision,
            gradient_checkpointing=checkpointing,
            packing=packing,
            compile=compile_layers,
            attention=attention,
            seed=settings.seed,
            checkpoint_every=checkpoint_every,
        )
        trainer = Trainer(config, console=Console(stderr=True, quiet=True))
        result = trainer.fit(make_model(), examples, [], pad_id=0)
    return {
        "tokens_per_second": result.tokens_per_second,
        "peak_memory_bytes": result.peak_memory_bytes,
        "losses": [loss for _, loss in result.loss_history],
        "attention": result.attention,
        "layout": result.layout,
        "trainable_parameters": result.trainable,
        "seconds": result.seconds,
    }


def ours_order(examples: list[Example], settings: Settings) -> list[int]:
    """The order our unpacked run visits examples in epoch 0 (so TRL can be fed the very same batches)."""
    from train.packing import plan_rows

    plan = plan_rows(examples, False, settings.max_length, settings.batch, settings.seed)
    return [row[0] for batch in plan.micro_batches(0) for row in batch]


# ----------------------------------------------------------------------------------- TRL


def run_trl(
    examples: list[Example],
    make_model: Callable[[], Any],
    settings: Settings,
    *,
    packing: bool,
    checkpointing: bool = True,
    order: list[int] | None = None,
) -> dict[str, Any]:
    """TRL's SFTTrainer + peft with TRL's defaults except what must match (LoRA, lr, batch, precision, steps)."""
    import torch
    from datasets import Dataset, disable_progress_bars
    from peft import LoraConfig
    from torch.utils.data import SequentialSampler
    from transformers import PrinterCallback, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from train.memory import MemoryMeter
    from train.tiny import tiny_tokenizer

    disable_progress_bars()
    chosen = [examples[i] for i in order] if order is not None else examples
    dataset = Dataset.from_dict(
        {"input_ids": [e.input_ids for e in chosen], "completion_mask": [completion_mask(e) for e in chosen]}
    )
    cuda = settings.device == "cuda"
    meter = MemoryMeter(torch.device(settings.device))
    counts: dict[str, Any] = {"tokens": [], "losses": [], "times": {}}

    class Measured(SFTTrainer):
        """Visits rows in dataset order (ours chose it) and counts the real tokens each step trains on."""

        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> Any:
            return SequentialSampler(self.train_dataset)

        def compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            real = inputs["attention_mask"].sum() if "attention_mask" in inputs else inputs["input_ids"].numel()
            counts["pending"] = counts.get("pending", 0) + real
            return super().compute_loss(model, inputs, *args, **kwargs)

    class StepMeter(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            counts["tokens"].append(counts.pop("pending", 0))
            meter.step_peak()
            if state.global_step in (1, args.max_steps):
                if cuda:
                    torch.cuda.synchronize()
                counts["times"][state.global_step] = time.perf_counter()

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            if logs and "loss" in logs:
                counts["losses"].append(float(logs["loss"]))

    with tempfile.TemporaryDirectory() as output:
        args = SFTConfig(
            output_dir=output,
            per_device_train_batch_size=settings.batch,
            gradient_accumulation_steps=1,
            max_steps=settings.steps,
            learning_rate=settings.lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            weight_decay=0.0,
            max_grad_norm=1.0,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            bf16=settings.precision == "bf16",
            max_length=settings.max_length,
            packing=packing,
            completion_only_loss=True,
            gradient_checkpointing=checkpointing,
            seed=settings.seed,
            dataloader_num_workers=0,
            disable_tqdm=True,
            use_cpu=not cuda,
        )
        lora = LoraConfig(
            r=settings.rank,
            lora_alpha=settings.alpha,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        model = make_model()
        torch.manual_seed(settings.seed)
        trainer = Measured(
            model=model,
            args=args,
            train_dataset=dataset,
            peft_config=lora,
            processing_class=tiny_tokenizer(),
            callbacks=[StepMeter()],
        )
        trainer.remove_callback(PrinterCallback)  # its per-step log lines would bury the table
        meter.reset()
        meter.start()
        started = time.perf_counter()
        trainer.train()
        meter.stop()
    tokens = [int(t) for t in counts["tokens"]]
    elapsed = counts["times"][settings.steps] - counts["times"][1]
    return {
        "tokens_per_second": sum(tokens[1:]) / elapsed,
        "peak_memory_bytes": meter.peak,
        "losses": counts["losses"],
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "seconds": time.perf_counter() - started,
        "packing_strategy": args.packing_strategy if packing else None,
        "attention": model.config._attn_implementation,
    }


# ----------------------------------------------------------------------------------- reporting


def select_runs(
    plan: list[tuple[str, Callable[[], dict[str, Any]]]], only: str | None
) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """The runs named in `only` (comma-separated), in plan order; all of them without it."""
    if not only:
        return plan
    wanted = set(only.split(","))
    return [item for item in plan if item[0] in wanted]


def model_header(config: Any, settings: Settings) -> dict[str, Any]:
    """What a report says about the machine, the versions, the settings and the model's shape."""
    return {
        "device": device_name(),
        "versions": versions(),
        "settings": settings.describe(),
        "model": {
            "type": config.model_type,
            "hidden": config.hidden_size,
            "layers": config.num_hidden_layers,
            "vocab": config.vocab_size,
        },
    }


def run_all(
    plan: list[tuple[str, Callable[[], dict[str, Any]]]], out_json: Path, header: dict[str, Any], budget_seconds: float
) -> dict[str, Any]:
    """Run each (name, thunk), keeping going after failures and rewriting out_json after each one;
    runs that would start after `budget_seconds` are recorded as skipped."""
    import torch

    report = dict(header, runs={})
    began = time.perf_counter()
    for name, thunk in plan:
        if time.perf_counter() - began > budget_seconds:
            report["runs"][name] = {"status": "skipped", "error": f"time budget of {budget_seconds:.0f} s used up"}
            out_json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            continue
        # The previous run's trainer, model and optimizer sit in reference cycles: without a
        # collection they outlive it, and on CUDA `max_memory_allocated` counts them in this run.
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        leftover = torch.cuda.memory_allocated() if torch.cuda.is_available() else None
        print(f"--- {name}", flush=True)
        started = time.perf_counter()
        try:
            result = thunk()
            result["status"] = "ok"
        except Exception as exc:  # one configuration failing must not lose the others' figures
            result = {
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()[-3000:],
            }
            print(result["traceback"], flush=True)
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        result["allocated_before_bytes"] = leftover
        report["runs"][name] = result
        out_json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(summary_line(name, result), flush=True)
    return report


def default_out() -> Path:
    """$OUT on the device machine, else a folder in sft-verify's cache (never inside the repository)."""
    import os

    if os.environ.get("OUT"):
        return Path(os.environ["OUT"])
    from verify.modelio import cache_dir

    return cache_dir() / "bench"


def tail_mean(losses: list[float], count: int = 5) -> float | None:
    return sum(losses[-count:]) / len(losses[-count:]) if losses else None


def summary_line(name: str, result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return f"{name:22} FAILED {result.get('error', '')[:200]}"
    gib = result["peak_memory_bytes"] / 2**30
    before = result.get("allocated_before_bytes") or 0
    warning = (
        f"  ({before / 2**20:.0f} MiB still allocated before the run, counted in its peak)" if before > 2**24 else ""
    )
    return (
        f"{name:22} {result['tokens_per_second']:>10,.0f} tok/s  peak {gib:6.2f} GiB  "
        f"loss first {result['losses'][0]:.3f} last5 {tail_mean(result['losses']):.3f}{warning}"
    )


def print_table(report: dict[str, Any], reference: str) -> None:
    runs = report["runs"]
    base = runs.get(reference, {})
    base_rate = base.get("tokens_per_second") if base.get("status") == "ok" else None
    base_peak = base.get("peak_memory_bytes") if base.get("status") == "ok" else None
    print(f"\n{'run':22} {'tokens/s':>10} {'x ' + reference:>18} {'peak GiB':>9} {'peak/ref':>9} {'loss last5':>11}")
    for name, result in runs.items():
        if result.get("status") != "ok":
            print(f"{name:22} {result.get('status', 'error').upper()}: {result.get('error', '')[:150]}")
            continue
        ratio = f"{result['tokens_per_second'] / base_rate:.2f}" if base_rate else "-"
        peak_ratio = f"{result['peak_memory_bytes'] / base_peak:.2f}" if base_peak else "-"
        print(
            f"{name:22} {result['tokens_per_second']:>10,.0f} {ratio:>18} {result['peak_memory_bytes'] / 2**30:>9.2f} "
            f"{peak_ratio:>9} {tail_mean(result['losses']):>11.4f}"
        )


def curve_gap(a: list[float], b: list[float]) -> float | None:
    """Mean |difference| between two loss curves over their common steps."""
    steps = min(len(a), len(b))
    return sum(abs(x - y) for x, y in zip(a[:steps], b[:steps], strict=True)) / steps if steps else None


def versions() -> dict[str, str]:
    import importlib.metadata as metadata

    found = {}
    for name in ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "pyarrow"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def device_name() -> str:
    import platform

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
