"""Peak training memory, ours vs TRL's SFTTrainer, counted tensor by tensor on any device.

    python bench/train_memory.py                 # Qwen2.5-0.5B shape, bf16, batch 8 x 1024, on CPU
    python bench/train_memory.py --tiny          # CPU-sized model (seconds)

The GPU benchmark (bench/train_gpu.py) reads `torch.cuda.max_memory_allocated`; a machine
without a GPU has no such counter. Here every run happens inside train.tensor_meter's
`TensorBytesMeter`, which counts the bytes of every live tensor storage at each operator
boundary, the same way for both trainers: weights, LoRA state, activations kept or
recomputed under checkpointing, the loss, gradients and AdamW's moments. It runs the
setup of bench/train_gpu.py (same random-init model, data, LoRA r=16 on all linear layers,
bf16, batch, completion-only loss) for a few steps; only memory is reported, since the meter
slows every operator down. Kernel scratch space and allocator rounding are not counted, so
the figures are comparable with each other, and close to, not equal to, a GPU's.

One asymmetry favours us on a machine without Triton: TRL's fused log-prob head then scores
every position, not only the completion tokens, and folds each 4096 x 32768 logit tile with
fp32 torch temporaries instead of its in-place Triton kernel, so TRL's CPU peak is above its
GPU peak. On CPU, compare ours with TRL's figure from bench/train_gpu.py, not with its figure
here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_harness as h  # noqa: E402


def measured(run):
    """Run `run()` inside a fresh meter; its result with the meter's peak as `peak_memory_bytes`."""
    from train.tensor_meter import TensorBytesMeter

    def thunk():
        with TensorBytesMeter() as meter:
            result = run()
        result["peak_memory_bytes"] = meter.peak
        result["tokens_per_second"] = float("nan")  # not a timed run: the meter slows every operator
        return result

    return thunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(".whl/bench_tokens.json.gz"), help="pre-tokenized examples")
    parser.add_argument("--tiny", action="store_true", help="a CPU-sized model and batch")
    parser.add_argument(
        "--steps", type=int, default=3, help="optimizer steps per run (AdamW's state exists from step 2)"
    )
    parser.add_argument("--only", help="comma-separated run names")
    parser.add_argument(
        "--out", type=Path, help="folder for train_memory.json (default: $OUT, else the sft-verify cache)"
    )
    args = parser.parse_args()
    args.out = args.out or h.default_out()

    import torch

    if args.tiny:
        settings = h.Settings(batch=4, max_length=256, steps=args.steps, precision="fp32", device="cpu")
        config, dtype = h.tiny_qwen2_config(), torch.float32
    else:
        settings = h.Settings(batch=8, max_length=1024, steps=args.steps, precision="bf16", device="cpu")
        config, dtype = h.qwen25_05b_config(), torch.bfloat16
    examples = [e for e in h.examples_from(args.data) if len(e) <= settings.max_length]

    def make_model():
        return h.random_model(config, dtype, "cpu", settings.seed)

    plan = [
        ("trl-packed", measured(lambda: h.run_trl(examples, make_model, settings, packing=True))),
        (
            "ours-packed-gc",
            measured(lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=True)),
        ),
        (
            "ours-packed",
            measured(lambda: h.run_ours(examples, make_model, settings, packing=True, checkpointing=False)),
        ),
    ]
    plan = h.select_runs(plan, args.only)
    header = h.model_header(config, settings) | {
        "meter": "train.tensor_meter.TensorBytesMeter (live tensor storage bytes)",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    report = h.run_all(plan, args.out / "train_memory.json", header, budget_seconds=float("inf"))
    runs = report["runs"]
    base = runs.get("trl-packed", {})
    print(
        f"\npeak live tensor memory; {header['device']}; batch {settings.batch} x {settings.max_length}, "
        f"{settings.precision}, {settings.steps} steps"
    )
    print(f"{'run':22} {'peak GiB':>9} {'/ trl-packed':>13}")
    for name, result in runs.items():
        if result.get("status") != "ok":
            print(f"{name:22} {result.get('status', 'error').upper()}: {result.get('error', '')[:150]}")
            continue
        ratio = f"{result['peak_memory_bytes'] / base['peak_memory_bytes']:.2f}" if base.get("status") == "ok" else "-"
        print(f"{name:22} {result['peak_memory_bytes'] / 2**30:>9.3f} {ratio:>13}")


if __name__ == "__main__":
    main()
