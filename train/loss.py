"""Cross-entropy over target tokens only, without materialising full-vocabulary logits.

Full logits cost B·T·V floats several times over (logits, fp32 copy, softmax, gradient): for
batch 8 × 1024 and a 152k vocabulary that is ~5 GB each in fp32. Here the model runs up to
its final hidden states (the output head's input is captured by a pre-hook, which hands the
head a single position so the model's own logits cost nothing), the hidden states of target
positions are gathered — prompt positions never reach the head — and the head plus
cross-entropy run over chunks of `chunk` tokens. Each chunk's gradient with respect to its
hidden states (and to the head's trainable parameters, for full fine-tuning) is computed in
the forward pass and the chunk's logits are freed at once, so peak memory holds one chunk of
logits and the backward pass needs no recomputation.

At start-up `check_head_reproduces_logits` compares this path with the model's own logits on
a few tokens, so a model that post-processes its logits (soft-capping, scaling) is refused
rather than trained on a wrong loss.
"""

from __future__ import annotations

from typing import Any

import torch

from train.data import IGNORE
from train.errors import TrainError
from train.memory import BYTES_PER_LOGIT

LOGIT_CHUNK_BYTES = 256 << 20  # budget for one chunk's logits: the head's output plus one fp32 working copy


def default_chunk_tokens(vocab_size: int) -> int:
    """Tokens per chunk so that one chunk's logits fit LOGIT_CHUNK_BYTES (at least 128)."""
    return max(128, LOGIT_CHUNK_BYTES // (BYTES_PER_LOGIT * vocab_size))


class CapturedHidden:
    """Context manager: records the output head's input and shrinks the head's work to one position."""

    def __init__(self, head: torch.nn.Module):
        self.head = head
        self.value: torch.Tensor | None = None
        self._handle: Any = None

    def _hook(self, module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.value = args[0]
        return (args[0][:, -1:, :], *args[1:])

    def __enter__(self) -> CapturedHidden:
        self._handle = self.head.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()


def softmax_loss_(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of fp32 `logits` [N, V] against `targets` [N]; turns `logits` into the softmax in place.

    In place because a chunk's logits are the largest tensor of the step: `F.cross_entropy`
    and its backward hold three or four copies of them (logits, log-softmax, gradient), this
    holds one, and the gradient is that same buffer minus the one-hot targets."""
    target_logits = logits.gather(1, targets[:, None]).squeeze(1)
    peak = logits.amax(dim=1, keepdim=True)
    logits.sub_(peak).exp_()
    norm = logits.sum(dim=1, keepdim=True)
    logits.div_(norm)
    return (peak.squeeze(1) + norm.squeeze(1).log() - target_logits).sum()


def chunk_loss(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy of one chunk, no gradient."""
    return softmax_loss_(head(hidden).float(), targets)


def chunk_loss_and_grads(
    head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor, inputs: list[torch.Tensor]
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One chunk's summed cross-entropy and its gradients with respect to `inputs` (the chunk's
    hidden states and/or the head's trainable parameters).

    The gradient with respect to the logits is softmax − one-hot, written into the head's own
    output buffer (its backward never reads its output), then pushed back through the head."""
    with torch.enable_grad():
        logits = head(hidden)
    work = logits.detach().float()  # the same buffer when the head computes in fp32
    loss = softmax_loss_(work, targets)
    work.scatter_add_(1, targets[:, None], work.new_full((targets.shape[0], 1), -1.0))
    grad_logits = logits.detach()
    if work.data_ptr() != grad_logits.data_ptr():
        grad_logits.copy_(work)
    del work
    return loss.detach(), torch.autograd.grad(logits, inputs, grad_logits) if inputs else ()


class ChunkedHeadLoss(torch.autograd.Function):
    """Sum of token cross-entropies; the gradients are produced chunk by chunk during forward."""

    @staticmethod
    def forward(
        ctx: Any, hidden: torch.Tensor, targets: torch.Tensor, head: torch.nn.Module, chunk: int, *params: torch.Tensor
    ) -> torch.Tensor:
        need_hidden = ctx.needs_input_grad[0]
        wanted = [p for i, p in enumerate(params) if ctx.needs_input_grad[4 + i]]
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_params = [torch.zeros_like(p, dtype=torch.float32) for p in wanted]
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, hidden.shape[0], chunk):
            piece = hidden[start : start + chunk].detach().requires_grad_(need_hidden)
            inputs = ([piece] if need_hidden else []) + wanted
            loss, grads = chunk_loss_and_grads(head, piece, targets[start : start + chunk], inputs)
            grads = list(grads)
            if need_hidden:
                grad_hidden[start : start + chunk] = grads.pop(0)
            for accumulator, grad in zip(grad_params, grads, strict=True):
                accumulator += grad.float()
            total += loss
        ctx.need_hidden = need_hidden
        ctx.param_slots = [(ctx.needs_input_grad[4 + i], p.dtype) for i, p in enumerate(params)]
        ctx.save_for_backward(*([grad_hidden] if need_hidden else []), *grad_params)
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        saved = list(ctx.saved_tensors)
        grad_hidden = None
        if ctx.need_hidden:
            stored = saved.pop(0)
            grad_hidden = (stored * grad_output).to(stored.dtype)
        grad_params = [(saved.pop(0) * grad_output).to(dtype) if needed else None for needed, dtype in ctx.param_slots]
        return (grad_hidden, None, None, None, *grad_params)


def head_loss(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
    """Summed cross-entropy of `head(hidden)` against `targets` ([N, H] and [N]), chunk by chunk."""
    if not torch.is_grad_enabled():
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, hidden.shape[0], chunk):
            total = total + chunk_loss(head, hidden[start : start + chunk], targets[start : start + chunk])
        return total
    params = [p for p in head.parameters() if p.requires_grad]
    return ChunkedHeadLoss.apply(hidden, targets, head, chunk, *params)


class CausalLMLoss(torch.nn.Module):
    """A causal LM (plain or peft) as `forward(batch inputs) -> summed target cross-entropy`.

    Being one Module, DDP/FSDP wrap it whole and the loss runs inside the wrapped forward."""

    def __init__(self, model: torch.nn.Module, chunk: int):
        super().__init__()
        self.model = model
        self.chunk = chunk
        self._no_split_modules = getattr(model, "_no_split_modules", None)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cu_seq_lens: torch.Tensor | None = None,
        max_length: int | None = None,
    ) -> torch.Tensor:
        kwargs: dict[str, Any] = {"input_ids": input_ids}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if cu_seq_lens is not None:
            kwargs.update(
                cu_seq_lens_q=cu_seq_lens, cu_seq_lens_k=cu_seq_lens, max_length_q=max_length, max_length_k=max_length
            )
        with CapturedHidden(self.model.get_output_embeddings()) as captured:
            self.model(**kwargs)
        if captured.value is None:
            raise TrainError("the model never called its output head; this architecture is not supported")
        # Prompt tuning prepends virtual tokens: keep the positions of the real ones.
        return captured.value[:, -input_ids.shape[1] :, :]

    def forward(
        self,
        input_ids: torch.Tensor,
        targets: torch.Tensor,
        target_positions: torch.Tensor | None = None,
        **inputs: Any,
    ) -> torch.Tensor:
        """Summed cross-entropy over target positions (`target_positions`: their flat indices, else found here)."""
        hidden = self.hidden_states(input_ids, **inputs)
        if target_positions is None:
            target_positions = torch.nonzero(targets.flatten() != IGNORE).flatten()
        picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, target_positions)
        wanted = targets.flatten().index_select(0, target_positions)
        return head_loss(self.model.get_output_embeddings(), picked, wanted, self.chunk)


def check_head_reproduces_logits(model: torch.nn.Module, vocab_size: int, device: Any) -> float:
    """Largest |difference| between the model's logits and head(captured hidden) on 8 tokens; raises unless ~0."""
    was_training = model.training
    model.eval()
    ids = torch.arange(1, 9, device=device).remainder(vocab_size)[None, :]
    try:
        with torch.no_grad():
            reference = model(input_ids=ids).logits[:, -ids.shape[1] :, :].float()
            ours = model.get_output_embeddings()(CausalLMLoss(model, 8).hidden_states(ids)).float()
    finally:
        model.train(was_training)
    gap = (reference - ours).abs().max().item()
    scale = reference.abs().max().item()
    relative = 1e-2 if reference_dtype_is_half(model) else 1e-3  # bf16 kernels of other shapes round differently
    if not gap <= relative * scale + 1e-4:
        raise TrainError(
            f"this model post-processes its logits after the output head (difference {gap:.3g}, e.g. logit "
            "soft-capping or scaling), which the chunked loss does not reproduce; this architecture is not supported"
        )
    return gap


def reference_dtype_is_half(model: torch.nn.Module) -> bool:
    return model.get_output_embeddings().weight.dtype in (torch.float16, torch.bfloat16)
