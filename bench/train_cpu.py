"""CPU benchmark: our trainer vs TRL's SFTTrainer + peft at tiny size, printed as ratios.

    python bench/train_cpu.py [--steps 8] [--limit N] [--model tiny|smollm2]

The same comparison as bench/train_gpu.py (same harness, same data, same LoRA config, same
random-init architecture: Qwen2 at CPU size by default), in fp32, batch 4 x 256 tokens, so
progress is visible without a GPU. `--model narrow` keeps Qwen2.5-0.5B's 24 layers at width
64, where per-operator overhead dominates as on a GPU; `--model smollm2` uses the real
SmolLM2-135M-Instruct weights instead (slow on 2 cores). Writes train_cpu.json beside the
printed table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_harness as h  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(".whl/bench_tokens.json.gz"),
        help="pre-tokenized examples (built when missing)",
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--limit", type=int, help="use at most this many examples")
    parser.add_argument("--model", choices=["tiny", "narrow", "smollm2"], default="tiny")
    parser.add_argument(
        "--out", type=Path, help="folder for the JSON report (default: $OUT, else the sft-verify cache)"
    )
    args = parser.parse_args()
    args.out = args.out or h.default_out()

    import torch

    settings = h.Settings(
        batch=args.batch, max_length=args.max_length, steps=args.steps, precision="fp32", device="cpu"
    )
    examples = [e for e in h.examples_from(args.data) if len(e) <= settings.max_length][: args.limit]
    if args.model == "smollm2":
        from verify.modelio import load_causal_lm, smollm2_hf_dir

        def make_model():
            model = load_causal_lm(smollm2_hf_dir(), dtype=torch.float32)
            model.config.use_cache = False
            return model

    else:
        config = h.narrow_qwen2_config() if args.model == "narrow" else h.tiny_qwen2_config()

        def make_model():
            return h.random_model(config, torch.float32, "cpu", settings.seed)

    order = h.ours_order(examples, settings)
    plan = [
        ("trl-packed", lambda: h.run_trl(examples, make_model, settings, packing=True)),
        ("trl-unpacked", lambda: h.run_trl(examples, make_model, settings, packing=False, order=order)),
        ("ours-packed", lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=False)),
        ("ours-packed-gc", lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=True)),
        ("ours-unpacked-gc", lambda: h.run_ours(examples, make_model, settings, packing=False, checkpointing=True)),
    ]
    header = {
        "device": h.device_name(),
        "versions": h.versions(),
        "settings": settings.describe(),
        "model": args.model,
        "examples": len(examples),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    report = h.run_all(plan, args.out / "train_cpu.json", header, budget_seconds=float("inf"))
    print(
        f"\ndevice: {header['device']}; model {args.model}; {len(examples)} examples; batch {settings.batch} x {settings.max_length}"
    )
    h.print_table(report, "trl-packed")
    runs = report["runs"]
    if runs["ours-unpacked-gc"].get("status") == "ok" and runs["trl-unpacked"].get("status") == "ok":
        gap = h.curve_gap(runs["ours-unpacked-gc"]["losses"], runs["trl-unpacked"]["losses"])
        print(f"loss curves ours-unpacked-gc vs trl-unpacked (same batches): mean |difference| per step {gap:.5f}")


if __name__ == "__main__":
    main()
