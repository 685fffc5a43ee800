"""The methods peft implements: LoRA, DoRA, QLoRA, IA3, prompt tuning, prefix tuning, AdaLoRA, LoHa, LoKr, VeRA.

Each class only translates its documented options into the peft config; creating, saving,
reloading (`PeftModel.from_pretrained`) and merging are peft's own, shared in `PeftMethod`.
Defaults follow the methods' papers or peft's examples where those agree; the default
learning rates are the usual ones for each method with AdamW (docs/train.md lists them).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from train.errors import MethodNotApplicable, TrainError
from train.methods.base import Method, MethodContext, MethodOptions, register

TargetModules = str | list[str] | None


class PeftMethod(Method):
    """Shared verbs for peft-backed methods; subclasses build the peft config."""

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        raise NotImplementedError

    def apply(self, model: Any, options: Any, context: MethodContext) -> Any:
        import torch
        from peft import get_peft_model

        torch.manual_seed(context.seed)  # adapter initialisation is random for most methods
        try:
            return get_peft_model(model, self.peft_config(options, context))
        except (ValueError, TypeError, KeyError) as exc:
            raise MethodNotApplicable(f"{self.name} cannot apply to this model: {exc}") from exc

    def save(self, model: Any, directory: Path) -> None:
        model.save_pretrained(str(directory))

    def load(self, base_model: Any, directory: Path) -> Any:
        from peft import PeftModel

        return PeftModel.from_pretrained(base_model, str(directory))

    def merged(self, model: Any) -> Any:
        if not self.mergeable:
            return super().merged(model)
        return model.merge_and_unload()


class LoraOptions(MethodOptions):
    r: int = Field(16, ge=1, description="rank of the update")
    alpha: float = Field(32, gt=0, description="scaling numerator: the update is scaled by alpha / r")
    dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the adapter's input")
    target_modules: TargetModules = Field(
        "all-linear", description="module names, or all-linear (every linear but the output head)"
    )
    rslora: bool = Field(False, description="scale by alpha / sqrt(r) (rank-stabilised LoRA)")


@register
class Lora(PeftMethod):
    name = "lora"
    family = "reparameterised"
    description = "low-rank update B·A added to each targeted weight (Hu et al. 2021)"
    Options = LoraOptions

    def lora_kwargs(self, options: LoraOptions) -> dict[str, Any]:
        return {
            "r": options.r,
            "lora_alpha": options.alpha,
            "lora_dropout": options.dropout,
            "target_modules": options.target_modules,
            "use_rslora": options.rslora,
            "task_type": "CAUSAL_LM",
        }

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import LoraConfig

        return LoraConfig(**self.lora_kwargs(options))


@register
class Dora(Lora):
    name = "dora"
    description = "LoRA on the direction of each weight plus a trained magnitude vector (Liu et al. 2024)"

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import LoraConfig

        return LoraConfig(**self.lora_kwargs(options), use_dora=True)


class QLoraOptions(LoraOptions):
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type of the frozen base weights")
    double_quant: bool = Field(True, description="quantise the quantisation constants too")


@register
class QLora(Lora):
    name = "qlora"
    description = "LoRA on a 4-bit (NF4) quantised frozen base through bitsandbytes (Dettmers et al. 2023)"
    Options = QLoraOptions
    mergeable = False
    merge_refusal = (
        "qlora cannot merge into 4-bit weights without losing the update; merge the saved adapter "
        "into the unquantised base instead (load it with PeftModel.from_pretrained, then merge_and_unload)"
    )

    def check_machine(self, options: Any, device_type: str) -> None:
        if device_type != "cuda":
            raise MethodNotApplicable(
                "qlora needs a CUDA GPU: bitsandbytes' 4-bit kernels run on CUDA only; "
                "on this machine use --method lora (same adapter, unquantised base)"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise MethodNotApplicable("qlora needs bitsandbytes: pip install 'bitsandbytes>=0.45'")

    def load_kwargs(self, options: Any, weight_dtype: Any) -> dict[str, Any]:
        from transformers import BitsAndBytesConfig

        return {
            "quantization_config": BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type=options.quant_type,
                bnb_4bit_use_double_quant=options.double_quant,
                bnb_4bit_compute_dtype=weight_dtype,
            )
        }

    def apply(self, model: Any, options: Any, context: MethodContext) -> Any:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return super().apply(model, options, context)


class IA3Options(MethodOptions):
    target_modules: TargetModules = Field(
        None, description="default: peft's choice per architecture (k, v, down projections)"
    )
    feedforward_modules: TargetModules = Field(
        None, description="targets whose input, not output, is rescaled; default: peft's choice (down projection)"
    )


@register
class IA3(PeftMethod):
    name = "ia3"
    family = "reparameterised"
    description = "learned vectors rescaling keys, values and feed-forward activations (Liu et al. 2022)"
    Options = IA3Options
    default_learning_rate = 3e-3

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import IA3Config

        return IA3Config(
            target_modules=options.target_modules,
            feedforward_modules=options.feedforward_modules,
            task_type="CAUSAL_LM",
        )


class PromptTuningOptions(MethodOptions):
    num_virtual_tokens: int = Field(20, ge=1, description="trained embeddings prepended to every row")
    init_text: str | None = Field(None, description="initialise from this text's embeddings; default: random")


@register
class PromptTuning(PeftMethod):
    name = "prompt-tuning"
    family = "additive"
    description = "trained soft-prompt embeddings prepended to the input (Lester et al. 2021)"
    Options = PromptTuningOptions
    default_learning_rate = 3e-2
    supports_packing = False
    mergeable = False

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import PromptTuningConfig, PromptTuningInit

        if options.init_text is None:
            return PromptTuningConfig(num_virtual_tokens=options.num_virtual_tokens, task_type="CAUSAL_LM")
        return PromptTuningConfig(
            num_virtual_tokens=options.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT,
            prompt_tuning_init_text=options.init_text,
            tokenizer_name_or_path=context.model_path,
            tokenizer_kwargs={"gguf_file": context.gguf_file} if context.gguf_file else None,
            task_type="CAUSAL_LM",
        )


class PrefixTuningOptions(MethodOptions):
    num_virtual_tokens: int = Field(20, ge=1, description="trained key/value positions prepended in every layer")
    projection: bool = Field(False, description="produce the prefix through a 2-layer MLP (reparameterisation)")
    projection_hidden: int = Field(512, ge=1, description="hidden size of that MLP")


@register
class PrefixTuning(PeftMethod):
    name = "prefix-tuning"
    family = "additive"
    description = "trained key/value prefixes in every attention layer (Li & Liang 2021)"
    Options = PrefixTuningOptions
    default_learning_rate = 5e-3
    supports_packing = False
    supports_gradient_checkpointing = False
    mergeable = False

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(
            num_virtual_tokens=options.num_virtual_tokens,
            prefix_projection=options.projection,
            encoder_hidden_size=options.projection_hidden,
            task_type="CAUSAL_LM",
        )


class AdaLoraOptions(MethodOptions):
    init_r: int = Field(12, ge=1, description="starting rank of every targeted weight")
    target_r: int = Field(8, ge=1, description="average rank left after budget allocation")
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: TargetModules = Field("all-linear")
    warmup_fraction: float = Field(0.1, ge=0, lt=1, description="share of steps before ranks are pruned (tinit)")
    final_fraction: float = Field(0.2, ge=0, lt=1, description="share of steps at the end with ranks fixed (tfinal)")
    delta_t: int = Field(10, ge=1, description="steps between budget reallocations")
    orth_reg_weight: float = Field(0.5, ge=0, description="weight of the orthogonality penalty on P and Q")


@register
class AdaLora(PeftMethod):
    name = "adalora"
    family = "reparameterised"
    description = "SVD-shaped LoRA whose rank budget moves to the weights that matter (Zhang et al. 2023)"
    Options = AdaLoraOptions
    default_learning_rate = 1e-3
    # peft's rank allocator keeps running importance statistics; a checkpoint must carry them.
    ALLOCATOR_STATE = ("ipt", "exp_avg_ipt", "exp_avg_unc")

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import AdaLoraConfig

        if options.target_r > options.init_r:
            raise TrainError(f"adalora: target_r ({options.target_r}) must not exceed init_r ({options.init_r})")
        total = max(context.total_steps, 1)
        tinit = int(total * options.warmup_fraction)
        tfinal = int(total * options.final_fraction)
        if tinit >= total - tfinal:
            tinit, tfinal = 0, 0  # too few steps for three phases: allocate over the whole run
        return AdaLoraConfig(
            init_r=options.init_r,
            target_r=options.target_r,
            lora_alpha=options.alpha,
            lora_dropout=options.dropout,
            target_modules=options.target_modules,
            tinit=tinit,
            tfinal=tfinal,
            deltaT=options.delta_t,
            total_step=total,
            orth_reg_weight=options.orth_reg_weight,
            task_type="CAUSAL_LM",
        )

    def after_optimizer_step(self, model: Any, step: int) -> None:
        model.base_model.update_and_allocate(step)

    def extra_state(self, model: Any) -> dict[str, Any]:
        allocator = model.base_model.rankallocator
        return {name: dict(getattr(allocator, name)) for name in self.ALLOCATOR_STATE}

    def load_extra_state(self, model: Any, state: dict[str, Any]) -> None:
        allocator = model.base_model.rankallocator
        for name in self.ALLOCATOR_STATE:
            getattr(allocator, name).update(state.get(name, {}))

    def extra_loss(self, model: Any) -> Any:
        """The paper's orthogonality penalty ‖PPᵀ−I‖ + ‖QᵀQ−I‖, averaged over the adapted weights.

        peft adds it only when the model computes the loss itself; this trainer computes the
        loss outside the model (chunked cross-entropy), so it adds the penalty here."""
        import torch

        weight = model.peft_config[model.active_adapter].orth_reg_weight
        if weight == 0:
            return None
        penalty = None
        count = 0
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad or not ("lora_A" in name or "lora_B" in name):
                continue
            gram = parameter @ parameter.T if "lora_A" in name else parameter.T @ parameter
            eye = torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)
            term = torch.linalg.matrix_norm(gram - eye)
            penalty = term if penalty is None else penalty + term
            count += 1
        return None if penalty is None else weight * penalty / count


class LycorisOptions(MethodOptions):
    r: int = Field(8, ge=1)
    alpha: float = Field(8, gt=0)
    rank_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the update's rank dimension")
    module_dropout: float = Field(0.0, ge=0, lt=1, description="probability of skipping a module's update")
    target_modules: TargetModules = Field("all-linear")


@register
class LoHa(PeftMethod):
    name = "loha"
    family = "reparameterised"
    description = "update as the Hadamard product of two low-rank products (Hyeon-Woo et al. 2022)"
    Options = LycorisOptions

    def lycoris_kwargs(self, options: Any) -> dict[str, Any]:
        """The options LoHa and LoKr share (both come from the LyCORIS family)."""
        return {
            "r": options.r,
            "alpha": options.alpha,
            "rank_dropout": options.rank_dropout,
            "module_dropout": options.module_dropout,
            "target_modules": options.target_modules,
            "task_type": "CAUSAL_LM",
        }

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import LoHaConfig

        return LoHaConfig(**self.lycoris_kwargs(options))


class LoKrOptions(LycorisOptions):
    decompose_factor: int = Field(-1, description="factor of the Kronecker split; -1 picks the most square one")


@register
class LoKr(LoHa):
    name = "lokr"
    description = "update as a Kronecker product with a low-rank factor (Yeh et al. 2023)"
    Options = LoKrOptions

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import LoKrConfig

        return LoKrConfig(**self.lycoris_kwargs(options), decompose_factor=options.decompose_factor)


class VeraOptions(MethodOptions):
    r: int = Field(256, ge=1, description="rank of the shared frozen random matrices")
    d_initial: float = Field(0.1, gt=0, description="initial value of the trained scaling vector d")
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: TargetModules = Field("all-linear")


@register
class Vera(PeftMethod):
    name = "vera"
    family = "reparameterised"
    description = "frozen shared random low-rank matrices, only two scaling vectors trained (Kopiczko et al. 2024)"
    Options = VeraOptions
    default_learning_rate = 4e-3

    def peft_config(self, options: Any, context: MethodContext) -> Any:
        from peft import VeraConfig

        return VeraConfig(
            r=options.r,
            d_initial=options.d_initial,
            vera_dropout=options.dropout,
            target_modules=options.target_modules,
            projection_prng_key=context.seed,
            save_projection=True,
            task_type="CAUSAL_LM",
        )
