"""GPU benchmark: our trainer vs TRL's SFTTrainer + peft on a random-init Qwen2.5-0.5B-shaped model.

    python bench/train_gpu.py --data .whl/bench_tokens.json.gz --out OUT_DIR   # on a GPU
    python bench/train_gpu.py --tiny                                           # smoke test on CPU
    python bench/train_gpu.py --prepare .whl/bench_tokens.json.gz              # build the data (needs corpora + SmolLM2)

Same model (seeded random init, bf16), data, LoRA (r=16, alpha=32, all linear layers), AdamW
at a constant 2e-4, batch 8 x 1024 tokens, completion-only loss, 30 steps, in one process.
Runs: TRL packed (best-fit decreasing, padding-free) and unpacked, both with TRL's default
gradient checkpointing; ours packed (varlen attention) with checkpointing (plain and with
compiled decoder layers), without it (plain and compiled), and unpacked with checkpointing
(fed the same batches as TRL unpacked, so their loss curves must coincide). Before timing,
the varlen attention path is checked against SDPA with an explicit block-diagonal mask on one
packed batch (loss and gradients). Prints a table and writes train_gpu.json (figures, loss curves, device, versions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_harness as h  # noqa: E402


def varlen_check(examples: list, config, dtype, device: str) -> dict:
    """Loss and gradients of one packed batch: varlen kernel vs SDPA + block-diagonal mask."""
    import torch

    from train.attention import use_sdpa_attention, use_varlen_attention
    from train.loss import CausalLMLoss
    from train.packing import collate, plan_rows

    model = h.random_model(config, dtype, device)
    rows = plan_rows(examples[:64], True, 1024, 2, 0).micro_batches(0)[0]
    results = {}
    for layout in ("block", "varlen"):
        kernel = use_varlen_attention(model, device) if layout == "varlen" else (use_sdpa_attention(model) or "sdpa")
        model.zero_grad(set_to_none=True)
        batch = collate(examples, rows, layout, 0).to(device)
        with torch.autocast(device, dtype=dtype):
            loss = CausalLMLoss(model, 1024)(**batch.inputs)
        loss.backward()
        grad = model.model.layers[0].self_attn.q_proj.weight.grad.float().clone()
        results[layout] = (loss.item(), grad, kernel)
    (block_loss, block_grad, _), (varlen_loss, varlen_grad, kernel) = results["block"], results["varlen"]
    return {
        "kernel": kernel,
        "tokens": batch.n_tokens,
        "loss_block": block_loss,
        "loss_varlen": varlen_loss,
        "loss_relative_difference": abs(block_loss - varlen_loss) / abs(block_loss),
        "grad_relative_difference": ((block_grad - varlen_grad).norm() / block_grad.norm()).item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(".whl/bench_tokens.json.gz"), help="pre-tokenized examples")
    parser.add_argument("--prepare", type=Path, help="build the pre-tokenized examples into this file and stop")
    parser.add_argument("--tiny", action="store_true", help="a CPU-sized model and batch (smoke test)")
    parser.add_argument("--steps", type=int, help="optimizer steps per run (default 30; 6 with --tiny)")
    parser.add_argument("--limit", type=int, help="use at most this many examples")
    parser.add_argument("--only", help="comma-separated run names")
    parser.add_argument("--budget", type=float, default=600, help="start no run after this many seconds")
    parser.add_argument("--out", type=Path, help="folder for train_gpu.json (default: $OUT, else the sft-verify cache)")
    args = parser.parse_args()
    args.out = args.out or h.default_out()

    if args.prepare:
        examples = h.examples_from(args.prepare)
        print(f"{len(examples)} examples, {sum(len(e) for e in examples)} tokens in {args.prepare}")
        return

    import torch

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    if args.tiny:
        settings = h.Settings(batch=4, max_length=256, steps=args.steps or 6, precision="fp32", device=device)
        config, dtype = h.tiny_qwen2_config(), torch.float32
    else:
        settings = h.Settings(batch=8, max_length=1024, steps=args.steps or 30, precision="bf16", device=device)
        config, dtype = h.qwen25_05b_config(), torch.bfloat16
    examples = [e for e in h.load_examples(args.data) if len(e) <= settings.max_length][: args.limit]

    def make_model():
        return h.random_model(config, dtype, device, settings.seed)

    order = h.ours_order(examples, settings)
    plan = [
        ("trl-packed", lambda: h.run_trl(examples, make_model, settings, packing=True)),
        ("ours-packed-gc", lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=True)),
        (
            "ours-packed-gc-compiled",
            lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=True, compile_layers=True),
        ),
        ("ours-packed", lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=False)),
        (
            "ours-packed-gc2",
            lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=True, checkpoint_every=2),
        ),
        ("trl-unpacked", lambda: h.run_trl(examples, make_model, settings, packing=False, order=order)),
        ("ours-unpacked-gc", lambda: h.run_ours(examples, make_model, settings, packing=False, checkpointing=True)),
        (
            "ours-packed-compiled",
            lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=False, compile_layers=True),
        ),
    ]
    plan = h.select_runs(plan, args.only)
    header = h.model_header(config, settings) | {
        "examples": len(examples),
        "tokens": sum(len(e) for e in examples),
    }
    if device == "cuda":
        try:
            header["varlen_check"] = varlen_check(examples, config, dtype, device)
        except Exception as exc:  # the runs still tell which path worked
            header["varlen_check"] = {"error": f"{type(exc).__name__}: {exc}"}
        print("varlen check:", header["varlen_check"], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    report = h.run_all(plan, args.out / "train_gpu.json", header, args.budget)
    print(f"\ndevice: {header['device']}; {header['versions']}; {len(examples)} examples")
    h.print_table(report, "trl-packed")
    runs = report["runs"]
    for ours, trl in (("ours-unpacked-gc", "trl-unpacked"), ("ours-packed-gc", "trl-packed")):
        if runs.get(ours, {}).get("status") == "ok" and runs.get(trl, {}).get("status") == "ok":
            gap = h.curve_gap(runs[ours]["losses"], runs[trl]["losses"])
            print(f"loss curves {ours} vs {trl}: mean |difference| per step {gap:.4f}")


if __name__ == "__main__":
    main()
