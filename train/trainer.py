"""The training loop: vouched rows in, a reloadable adapter (or model) and training.json out.

One `Trainer.run()` does, in this order, refusing as early as possible:

1. options and machine checks (QLoRA without CUDA stops here), output folder check;
2. the vouched rows (`verify.manifest`: a tampered or foreign folder stops here);
3. the architecture from its config on the meta device: the method must apply (BitFit on a
   model without biases stops here), before any weight is read;
4. tokenizer, examples (train/data.py), held-out split, packing plan;
5. weights, attention path, the method, gradient checkpointing, optional compilation;
6. the loop: micro-batches summed into one optimizer step whose loss is the mean over every
   target token of the step (so gradient accumulation and packing do not reweight examples),
   gradient clipping, warm-up + cosine/linear schedule, eval loss, checkpoints;
7. the adapter saved in the method's own format, the tokenizer beside it, optional merge.

Distributed runs (`accelerate launch` / `torchrun`) go through accelerate: each process takes
every N-th micro-batch of a step, the token count of the whole step normalises the loss, and
only the main process writes files.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from train import checkpoint as ckpt
from train.attention import REJECTED, has_fast_varlen, use_sdpa_attention, use_varlen_attention
from train.config import TrainConfig
from train.data import ChatEncoder, Example, encode_records, read_vouched, split_examples, stop_token_ids
from train.errors import TrainError
from train.loss import CausalLMLoss, check_head_reproduces_logits, default_chunk_tokens
from train.memory import MemoryMeter, PlanRow, Shape, human_bytes, human_count, meta_model, plan_row
from train.methods import MethodContext, trainable_parameters
from train.packing import DataPlan, collate, plan_rows
from train.progress import StepProgress
from train.quiet import quiet_libraries

TRAINING_JSON = "training.json"
TOOL = "sft-verify"


@dataclass
class TrainResult:
    """What a run produced and measured (also written to training.json)."""

    output: Path
    method: str
    steps: int
    trainable: int
    total: int
    loss_history: list[tuple[int, float]] = field(default_factory=list)
    eval_history: list[tuple[int, float]] = field(default_factory=list)
    tokens_per_second: float = 0.0
    peak_memory_bytes: int = 0
    seconds: float = 0.0
    plan: PlanRow | None = None
    attention: str = ""
    layout: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float | None:
        return self.loss_history[-1][1] if self.loss_history else None

    @property
    def train_loss(self) -> float | None:
        """Mean training loss over the last tenth of the steps (at least one): less noisy than the last step."""
        if not self.loss_history:
            return None
        tail = self.loss_history[-max(1, len(self.loss_history) // 10) :]
        return sum(loss for _, loss in tail) / len(tail)

    @property
    def eval_loss(self) -> float | None:
        return self.eval_history[-1][1] if self.eval_history else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "steps": self.steps,
            "trainable_parameters": self.trainable,
            "total_parameters": self.total,
            "train_loss": self.train_loss,
            "final_loss": self.final_loss,
            "eval_loss": self.eval_loss,
            "tokens_per_second": self.tokens_per_second,
            "peak_memory_bytes": self.peak_memory_bytes,
            "seconds": self.seconds,
            "attention": self.attention,
            "layout": self.layout,
            "loss_history": self.loss_history,
            "eval_history": self.eval_history,
            "plan": self.plan.to_dict() if self.plan else None,
            "data": self.data,
        }


def resolve_precision(precision: str, device_type: str) -> str:
    if precision != "auto":
        if device_type != "cuda" and precision == "fp16":
            raise TrainError("fp16 needs a CUDA GPU; use --precision bf16 or fp32 on CPU")
        return precision
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the peak learning rate at optimizer step `step` (0-based)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated transformer blocks (the classes transformers marks as not splittable)."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    return [module for module in model.modules() if type(module).__name__ in names]


def enable_checkpointing(model: torch.nn.Module, every: int = 1) -> None:
    """Non-reentrant activation checkpointing of every `every`-th decoder layer.

    transformers checkpoints a layer when its `gradient_checkpointing` flag is set, so switching
    the flag off on the other layers keeps their activations: less recomputation, more memory."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # the method was renamed in transformers 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    for index, layer in enumerate(decoder_layers(model)):
        if index % every:
            layer.gradient_checkpointing = False


def keep_adapter_inputs_in_compute_dtype(model: torch.nn.Module) -> None:
    """Stop peft from casting each adapter's input to the adapter weights' dtype.

    The trained weights are fp32 (train.trainer upcasts them), so under bf16/fp16 autocast peft
    makes an fp32 copy of every adapted layer's input, which autocast casts straight back for
    the adapter's matmul and keeps for the backward pass: per adapted layer, an extra copy of
    its input (the MLP's down projection alone: 4.6x the hidden width) and two extra kernels.
    Autocast already runs the adapter's matmuls in the compute dtype, so without the round trip
    the values are the same (tested per method, without dropout; with dropout the input is
    scaled in the compute dtype, so it rounds once more). Layers with a LoRA variant (DoRA)
    keep the cast: DoRA computes its weight norm in the input's dtype, which would then be
    bf16. Only valid while every forward runs under autocast."""
    for module in model.modules():
        if hasattr(module, "_cast_input_dtype") and not getattr(module, "lora_variant", None):  # peft tuner layers
            module.cast_input_dtype_enabled = False


def load_model_config(model: str, gguf_file: str | None = None) -> Any:
    """The model's transformers config (no weights read)."""
    from transformers import AutoConfig

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        return AutoConfig.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot read the model at {model}: {exc}") from exc


class Trainer:
    def __init__(self, config: TrainConfig, console: Console | None = None):
        self.config = config
        self.console = console or Console(stderr=True)
        self.method = config.method_object()
        self.options = config.options()

    # ----------------------------------------------------------------------------- set-up

    def run(self) -> TrainResult:
        """Read the vouched rows, load the model, train it (`fit`) and save what reloads."""
        config = self.config
        quiet_libraries()
        self.check_combination()
        resume_from = self.check_output()
        records, provenance = read_vouched(config.data)
        model_config = load_model_config(config.model, config.gguf_file)
        self.method.check_model(self.options, meta_model(model_config))
        self.setup_runtime()

        from verify.modelio import load_tokenizer

        tokenizer = load_tokenizer(config.model, config.gguf_file)
        stop_ids = stop_token_ids(config.model, config.gguf_file)
        examples, report = encode_records(
            records, ChatEncoder(tokenizer, config.max_length, config.truncation, stop_ids)
        )
        train_examples, eval_examples = split_examples(examples, config.eval_fraction, config.seed)
        self.say(report.summary(config.max_length) + f"; {len(train_examples)} train, {len(eval_examples)} held out")

        meter = MemoryMeter(
            self.accelerator.device
        )  # before the weights load: the peak includes them, as the estimate does
        model = self.load_model()
        result = self.fit(
            model, train_examples, eval_examples, int(tokenizer.pad_token_id), meter, resume_from, provenance
        )
        result.data = report.to_dict()
        self.finish(self.model, tokenizer, result, provenance)
        return result

    def check_combination(self) -> None:
        """Refuse method/option/machine combinations that cannot work, before any work."""
        config = self.config
        self.method.check_machine(self.options, "cuda" if torch.cuda.is_available() else "cpu")
        if config.packing and not self.method.supports_packing:
            raise TrainError(
                f"{self.method.name} prepends virtual tokens to every row, so rows cannot be packed: drop --packing"
            )
        if config.gradient_checkpointing and not self.method.supports_gradient_checkpointing:
            raise TrainError(
                f"{self.method.name} keeps its trained prefix in the attention cache, which transformers drops in "
                "checkpointed layers: drop --gradient-checkpointing"
            )
        if config.merge and not self.method.mergeable:
            reason = self.method.merge_refusal or f"{self.method.name} has nothing to merge into the base weights"
            raise TrainError(f"{reason}: drop --merge")

    @property
    def packing(self) -> bool:
        return self.config.packing if self.config.packing is not None else self.method.supports_packing

    def setup_runtime(self) -> None:
        """Device, precision and the accelerate engine (DDP/FSDP under `accelerate launch` or torchrun)."""
        if getattr(self, "accelerator", None) is not None:
            return
        from accelerate import Accelerator
        from accelerate.state import AcceleratorState

        self.device_type = "cuda" if torch.cuda.is_available() else "cpu"
        self.precision = resolve_precision(self.config.precision, self.device_type)
        mixed = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}[self.precision]
        # accelerate keeps one state per process and refuses a second Accelerator with another
        # precision; a process that trains twice (a notebook, tests) drops the old one, as
        # transformers' TrainingArguments does. The process group (PartialState) is kept.
        state = AcceleratorState._shared_state
        if state and state.get("_mixed_precision", mixed) != mixed:
            AcceleratorState._reset_state()
        # cpu=True lets accelerate run torchrun-launched CPU processes as gloo DDP (MULTI_CPU).
        self.accelerator = Accelerator(mixed_precision=mixed, cpu=self.device_type == "cpu")

    @property
    def weight_dtype(self) -> torch.dtype:
        """Frozen weights in the compute precision; fp32 where the base itself trains (full fine-tuning)."""
        if self.method.trains_base_weights or self.precision == "fp32":
            return torch.float32
        return DTYPES[self.precision]

    def fit(
        self,
        model: torch.nn.Module,
        train_examples: list[Example],
        eval_examples: list[Example],
        pad_id: int,
        meter: MemoryMeter | None = None,
        resume_from: Path | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Train an already loaded model on encoded examples; returns what it measured.

        `run` calls it after loading data and weights; benchmarks call it directly with a
        random-init model and pre-tokenized examples."""
        config = self.config
        quiet_libraries()
        self.check_combination()
        self.setup_runtime()
        accelerator = self.accelerator
        meter = meter or MemoryMeter(accelerator.device)
        plan = plan_rows(train_examples, self.packing, config.max_length, config.batch_size, config.seed)
        world = accelerator.num_processes
        usable = plan.micro_batches_per_epoch // world * world
        if usable == 0:
            raise TrainError(
                f"{plan.micro_batches_per_epoch} micro-batches cannot feed {world} processes; lower --batch-size"
            )
        steps_per_epoch = math.ceil(usable / (config.grad_accum * world))
        total_steps = config.max_steps or max(1, math.ceil(steps_per_epoch * config.epochs))
        context = MethodContext(
            config.model, config.gguf_file, total_steps, config.seed, self.device_type, self.weight_dtype
        )

        vocab = model.get_output_embeddings().weight.shape[0]
        chunk = config.loss_chunk_tokens or default_chunk_tokens(vocab)
        check_head_reproduces_logits(model, vocab, next(model.parameters()).device)
        layout, attention = self.choose_attention(model, self.packing, self.device_type)
        _, base_params = trainable_parameters(model)
        text_config = model.config.get_text_config()

        model = self.method.apply(model, self.options, context)
        trainable, total = trainable_parameters(model)
        if trainable == 0:
            raise TrainError(f"{self.method.name} left no parameter trainable on this model")
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if config.gradient_checkpointing:
            enable_checkpointing(base, config.checkpoint_every)
        if config.compile:
            for layer in decoder_layers(base):
                layer.compile(dynamic=True)
        for parameter in model.parameters():
            if parameter.requires_grad and parameter.dtype != torch.float32:
                parameter.data = parameter.data.float()  # optimizer state and updates in fp32
        if self.precision != "fp32":  # accelerate runs every forward, training and eval, under autocast
            keep_adapter_inputs_in_compute_dtype(model)

        shape = Shape(
            params=base_params,
            layers=int(text_config.num_hidden_layers),
            hidden=int(text_config.hidden_size),
            vocab=vocab,
            batch=config.batch_size,
            seq_len=config.max_length,
            weight_bytes=torch.finfo(self.weight_dtype).bits // 8,
            chunk_tokens=chunk,
        )
        estimate = plan_row(self.method, shape, trainable, base_params)
        self.say(
            f"{self.method.name}: {human_count(trainable)} of {human_count(total)} parameters trainable "
            f"({100 * trainable / total:.3f}%); {self.precision}; attention {attention} ({layout}); "
            f"{total_steps} steps of {config.batch_size}x{config.grad_accum}x{world} rows; "
            f"estimated peak {human_bytes(estimate.estimate_chunked_bytes)}"
        )

        loss_module = CausalLMLoss(model, chunk)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params,
            lr=config.resolved_learning_rate(),
            weight_decay=config.weight_decay,
            fused=self.device_type == "cuda",
        )
        warmup = math.ceil(config.warmup_ratio * total_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, total_steps, warmup, config.schedule)
        )
        wrapped, optimizer = accelerator.prepare(loss_module, optimizer)

        run = _Run(
            trainer=self,
            model=model,
            wrapped=wrapped,
            optimizer=optimizer,
            scheduler=scheduler,
            params=params,
            train_examples=train_examples,
            eval_examples=eval_examples,
            plan=plan,
            layout=layout,
            pad_id=pad_id,
            steps_per_epoch=steps_per_epoch,
            total_steps=total_steps,
            fingerprint=self.fingerprint(provenance or {}),
            meter=meter,
        )
        result = TrainResult(
            output=config.output,
            method=self.method.name,
            steps=total_steps,
            trainable=trainable,
            total=total,
            plan=estimate,
            attention=attention,
            layout=layout,
        )
        if resume_from is not None:
            run.resume(resume_from, result)
        run.loop(result)
        self.model = model  # the trained model, for callers that go on using it (tests, notebooks, benchmarks)
        estimate.measured_peak_bytes = result.peak_memory_bytes
        return result

    def say(self, message: str) -> None:
        if getattr(self, "accelerator", None) is None or self.accelerator.is_main_process:
            self.console.print(message, highlight=False, soft_wrap=True)

    def check_output(self) -> Path | None:
        """Refuse to overwrite a previous run by accident; return the checkpoint to resume from, if any."""
        config = self.config
        if config.resume:
            return ckpt.resolve_resume(config.output, config.resume)
        output = Path(config.output)
        if output.exists() and any(output.iterdir()) and not config.overwrite:
            raise TrainError(f"output folder {output} is not empty: pass --overwrite, or --resume latest to continue")
        return None

    def load_model(self) -> torch.nn.Module:
        from verify.modelio import load_causal_lm

        kwargs = self.method.load_kwargs(self.options, self.weight_dtype)
        try:
            model = load_causal_lm(self.config.model, self.config.gguf_file, dtype=self.weight_dtype, **kwargs)
        except (OSError, ValueError) as exc:
            raise TrainError(f"cannot load the model at {self.config.model}: {exc}") from exc
        model.config.use_cache = False
        return model

    def choose_attention(self, model: torch.nn.Module, packing: bool, device_type: str) -> tuple[str, str]:
        """(batch layout, attention path) for this run; see train/attention.py."""
        choice = self.config.attention
        if not packing:
            use_sdpa_attention(model)
            return "padded", "sdpa"
        if choice == "varlen" or (choice == "auto" and has_fast_varlen(device_type)):
            return "varlen", use_varlen_attention(model, device_type)
        for name, problem in REJECTED.items():
            self.say(f"varlen kernel {name} not used: {problem}")
        use_sdpa_attention(model)
        return "block", "sdpa+block-mask"

    def fingerprint(self, provenance: dict[str, Any]) -> dict[str, Any]:
        """The options and data that must match for a checkpoint to be resumable."""
        config = self.config
        shaping = config.model_dump(
            mode="json",
            include={
                "model",
                "gguf_file",
                "method",
                "max_length",
                "truncation",
                "eval_fraction",
                "seed",
                "batch_size",
                "grad_accum",
                "epochs",
                "max_steps",
                "weight_decay",
                "warmup_ratio",
                "schedule",
                "max_grad_norm",
            },
        )
        shaping.update(
            method_options=self.options.model_dump(mode="json"),
            learning_rate=config.resolved_learning_rate(),
            packing=self.packing,
            precision=self.precision,
            kept_sha256=provenance.get("kept_sha256"),
        )
        return shaping

    # ----------------------------------------------------------------------------- outputs

    def finish(self, model: torch.nn.Module, tokenizer: Any, result: TrainResult, provenance: dict[str, Any]) -> None:
        accelerator = self.accelerator
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return
        output = Path(self.config.output)
        output.mkdir(parents=True, exist_ok=True)
        self.method.save(model, output)
        tokenizer.save_pretrained(str(output))
        if self.config.merge:
            merged_dir = output / "merged"
            if merged_dir.exists():
                shutil.rmtree(merged_dir)
            merged = self.method.merged(model)
            merged.save_pretrained(str(merged_dir))
            tokenizer.save_pretrained(str(merged_dir))
        record = training_record(self, result, provenance)
        (output / TRAINING_JSON).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        plan = result.plan
        peak = human_bytes(result.peak_memory_bytes)
        self.say(
            f"saved {self.method.name} to {output}: train loss {fmt(result.train_loss)}, eval loss {fmt(result.eval_loss)}, "
            f"{result.tokens_per_second:,.0f} tokens/s, peak memory {peak} "
            f"(estimate {human_bytes(plan.estimate_chunked_bytes) if plan else '-'})"
        )


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def training_record(trainer: Trainer, result: TrainResult, provenance: dict[str, Any]) -> dict[str, Any]:
    """training.json: what was trained, on exactly which verified data, how, and what it measured."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version(TOOL)
    except PackageNotFoundError:
        tool_version = "unknown"
    config, method = trainer.config, trainer.method
    resolved = {
        "packing": trainer.packing,
        "precision": trainer.precision,
        "learning_rate": config.resolved_learning_rate(),
    }
    return {
        "tool": TOOL,
        "tool_version": tool_version,
        "method": {
            "name": method.name,
            "version": method.version,
            "family": method.family,
            "options": trainer.options.model_dump(mode="json"),
        },
        "base_model": {"path": config.model, "gguf_file": config.gguf_file},
        "data": provenance,
        "config": config.model_dump(mode="json") | resolved,
        "results": result.to_dict(),
    }


class _Run:
    """State of one training loop (kept apart from set-up so each stays readable)."""

    def __init__(self, trainer: Trainer, **parts: Any):
        self.trainer = trainer
        self.config = trainer.config
        self.accelerator = trainer.accelerator
        self.method = trainer.method
        self.model: torch.nn.Module = parts["model"]
        self.wrapped: torch.nn.Module = parts["wrapped"]
        self.optimizer = parts["optimizer"]
        self.scheduler = parts["scheduler"]
        self.params: list[torch.nn.Parameter] = parts["params"]
        self.train_examples: list[Example] = parts["train_examples"]
        self.eval_examples: list[Example] = parts["eval_examples"]
        self.plan: DataPlan = parts["plan"]
        self.layout: str = parts["layout"]
        self.pad_id: int = parts["pad_id"]
        self.steps_per_epoch: int = parts["steps_per_epoch"]
        self.total_steps: int = parts["total_steps"]
        self.fingerprint: dict[str, Any] = parts["fingerprint"]
        self.meter: MemoryMeter = parts["meter"]
        self.start_step = 0
        self.device = self.accelerator.device
        self.world = self.accelerator.num_processes
        self.rank = self.accelerator.process_index
        self._epoch_cache: dict[int, list[list[list[int]]]] = {}

    def step_micro_batches(self, step: int) -> list[list[list[int]]]:
        """Every micro-batch of optimizer step `step`, over all processes."""
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch not in self._epoch_cache:
            batches = self.plan.micro_batches(epoch)
            self._epoch_cache = {epoch: batches[: len(batches) // self.world * self.world]}
        per_step = self.config.grad_accum * self.world
        return self._epoch_cache[epoch][index * per_step : (index + 1) * per_step]

    def resume(self, directory: Path, result: TrainResult) -> None:
        saved = json.loads((directory / ckpt.STATE).read_text(encoding="utf-8"))
        ckpt.check_fingerprint(saved.get("fingerprint", {}), self.fingerprint, directory)
        unwrapped = self.accelerator.unwrap_model(self.wrapped).model
        state, method_state = ckpt.load_checkpoint(directory, unwrapped, self.optimizer, self.scheduler)
        self.method.load_extra_state(unwrapped, method_state)
        self.start_step = int(state["step"])
        result.loss_history = [tuple(item) for item in state.get("loss_history", [])]
        result.eval_history = [tuple(item) for item in state.get("eval_history", [])]
        self.trainer.say(f"resumed from {directory} at step {self.start_step}")

    def save_checkpoint(self, step: int, result: TrainResult) -> None:
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            unwrapped = self.accelerator.unwrap_model(self.wrapped).model
            state = {
                "step": step,
                "fingerprint": self.fingerprint,
                "loss_history": result.loss_history,
                "eval_history": result.eval_history,
            }
            path = ckpt.checkpoint_path(self.config.output, step)
            ckpt.save_checkpoint(
                path, unwrapped, self.optimizer, self.scheduler, state, self.method.extra_state(unwrapped)
            )
            ckpt.prune_checkpoints(self.config.output, self.config.save_total_limit)

    def evaluate(self) -> float | None:
        """Mean cross-entropy per target token over the held-out examples."""
        if not self.eval_examples:
            return None
        plan = plan_rows(self.eval_examples, self.layout != "padded", self.config.max_length, self.config.batch_size, 0)
        batches = plan.micro_batches(0)
        loss_sum = torch.zeros((), device=self.device)
        targets = torch.zeros((), device=self.device)
        # The module without its DDP wrapper: DDP's forward syncs buffers across processes, which would
        # deadlock when processes hold different numbers of eval batches.
        module = self.accelerator.unwrap_model(self.wrapped)
        module.eval()
        with torch.no_grad():
            for rows in batches[self.rank :: self.world]:
                batch = collate(self.eval_examples, rows, self.layout, self.pad_id).to(self.device)
                loss_sum += module(**batch.inputs).float()
                targets += batch.n_targets
        module.train()
        if self.world > 1:
            loss_sum = self.accelerator.reduce(loss_sum, "sum")
            targets = self.accelerator.reduce(targets, "sum")
        return (loss_sum / targets).item()

    def loop(self, result: TrainResult) -> None:
        config = self.config
        accelerator = self.accelerator
        eval_every = config.eval_every or max(1, self.total_steps // 10)
        n_targets = [example.n_targets for example in self.train_examples]
        n_tokens = [len(example) for example in self.train_examples]
        meter = self.meter
        meter.reset()  # count training steps only, not loading and set-up
        meter.start()
        cuda = self.device.type == "cuda"
        if self.start_step == 0 and self.eval_examples:
            result.eval_history.append((0, self.evaluate()))
        # Steps left out of tokens/s: the first (allocator warm-up), or three when compiling (graph capture).
        untimed = min(3 if config.compile else 1, self.total_steps - self.start_step)
        timed_tokens = 0
        timed_from: float | None = None
        started = time.perf_counter()
        pending: tuple[int, torch.Tensor, Any, float] | None = None
        self.wrapped.train()
        label = self.method.name
        main = accelerator.is_main_process
        with StepProgress(
            self.trainer.console, self.total_steps, self.start_step, config.log_every, label, main
        ) as progress:
            for step in range(self.start_step, self.total_steps):
                group = self.step_micro_batches(step)
                step_targets = sum(n_targets[i] for rows in group for row in rows for i in row)
                step_tokens = sum(n_tokens[i] for rows in group for row in rows for i in row)  # all processes
                mine = group[self.rank :: self.world]
                loss_total = torch.zeros((), device=self.device)
                for index, rows in enumerate(mine):
                    batch = collate(self.train_examples, rows, self.layout, self.pad_id).to(self.device)
                    last = index == len(mine) - 1
                    with nullcontext() if last else accelerator.no_sync(self.wrapped):
                        loss_sum = self.wrapped(**batch.inputs)
                        loss = loss_sum * (self.world / step_targets)
                        extra = self.method.extra_loss(self.model)
                        if extra is not None:
                            loss = loss + extra / len(mine)
                        accelerator.backward(loss)
                    loss_total += loss_sum.detach().float()
                if config.max_grad_norm:
                    accelerator.clip_grad_norm_(self.params, config.max_grad_norm)
                self.optimizer.step()
                step_lr = self.scheduler.get_last_lr()[0]  # the rate this step used
                self.scheduler.step()
                self.method.after_optimizer_step(self.model, step)
                self.optimizer.zero_grad(set_to_none=True)
                memory = meter.step_peak()
                if self.world > 1:
                    loss_total = accelerator.reduce(loss_total, "sum")
                # The loss of step s is read after step s+1 is queued, so the GPU never waits for Python.
                this_loss = (loss_total / step_targets).to("cpu", non_blocking=cuda)
                event = torch.cuda.Event() if cuda else None
                if event is not None:
                    event.record()
                if pending is not None:
                    self.report(pending, result, progress, timed_tokens, timed_from, memory)
                pending = (step + 1, this_loss, event, step_lr)
                if step < self.start_step + untimed:
                    if step == self.start_step + untimed - 1:
                        if cuda:
                            torch.cuda.synchronize()
                        timed_from = time.perf_counter()
                else:
                    timed_tokens += step_tokens
                done = step + 1
                evaluate = bool(self.eval_examples) and (done % eval_every == 0 or done == self.total_steps)
                save = bool(config.save_every) and done % config.save_every == 0 and done < self.total_steps
                if evaluate or save:
                    self.report(pending, result, progress, timed_tokens, timed_from, memory)
                    pending = None
                    paused_at = time.perf_counter()
                    if evaluate:
                        progress.eval_loss = self.evaluate()
                        result.eval_history.append((done, progress.eval_loss))
                    if save:
                        self.save_checkpoint(done, result)
                    if timed_from is not None:
                        timed_from += time.perf_counter() - paused_at  # eval and saving are not training time
            if pending is not None:
                self.report(pending, result, progress, timed_tokens, timed_from, meter.peak)
        if cuda:
            torch.cuda.synchronize()
        meter.stop()
        elapsed = time.perf_counter() - (timed_from or started)
        result.tokens_per_second = timed_tokens / elapsed if timed_tokens and elapsed > 0 else 0.0
        result.peak_memory_bytes = meter.peak
        result.seconds = time.perf_counter() - started

    def report(
        self,
        pending: tuple[int, torch.Tensor, Any, float],
        result: TrainResult,
        progress: StepProgress,
        timed_tokens: int,
        timed_from: float | None,
        memory: int,
    ) -> None:
        done, value, event, lr = pending
        if event is not None:
            event.synchronize()
        loss = float(value)
        if not math.isfinite(loss):
            raise TrainError(
                f"the training loss became {loss} at step {done}; lower the learning rate or use bf16/fp32"
            )
        result.loss_history.append((done, loss))
        elapsed = time.perf_counter() - timed_from if timed_from else 0.0
        rate = timed_tokens / elapsed if elapsed > 0 else 0.0
        progress.update(done, loss, lr, rate, memory)
