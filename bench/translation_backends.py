"""Throughput of the causal back-translation backend: batched vs one text at a time.

    python bench/translation_backends.py [--limit N] [--model DIR | --random-init CONFIG_DIR]
                                         [--device auto] [--batch-sizes 1,8,32] [--max-new-tokens 64]

The jobs are the labelled set's translations, back-translated into their source language
(repeated to reach --limit). The anchor is plain one-at-a-time generation (batch size 1):
each larger batch size prints jobs/s, generated tokens/s and its speed-up over batch 1, and
how many outputs differ from the batch-1 outputs (greedy decoding with left padding should
change nothing in float32; in bfloat16 a few may differ). `--random-init` builds a model from
a config + tokenizer folder (weights are random: speed only), for machines that cannot
receive a real checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verify.translation import labelled  # noqa: E402
from verify.translation.backends.base import Job  # noqa: E402
from verify.translation.backends.causal import CausalBackend  # noqa: E402


def random_init_folder(config_dir: Path, target: Path) -> Path:
    """Save a random-init causal LM (seeded) with the tokenizer of `config_dir` into `target`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(config_dir)
    AutoModelForCausalLM.from_config(config).save_pretrained(target)
    AutoTokenizer.from_pretrained(config_dir).save_pretrained(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=16, help="number of back-translation jobs")
    parser.add_argument("--model", type=Path, help="causal model folder (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--random-init", type=Path, help="config + tokenizer folder for a random-init model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-sizes", default="1,4")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()

    pairs = labelled.load(REPO / "tests" / "data" / "translation")
    jobs = [Job(pair.translation, pair.target_lang, pair.source_lang) for pair in pairs]
    jobs = (jobs * (args.limit // len(jobs) + 1))[: args.limit]
    with tempfile.TemporaryDirectory() as scratch:
        if args.random_init:
            folder = random_init_folder(args.random_init, Path(scratch) / "model")
            kind = f"random-init model from {args.random_init}"
        else:
            from verify.modelio import smollm2_hf_dir

            folder = args.model or smollm2_hf_dir()
            kind = str(folder)
        baseline: list | None = None
        baseline_rate = 0.0
        for batch_size in [int(size) for size in args.batch_sizes.split(",")]:
            backend = CausalBackend(str(folder), None, args.device, args.dtype, batch_size, args.max_new_tokens)
            backend.load()
            if batch_size == int(args.batch_sizes.split(",")[0]):
                import torch

                device_name = torch.cuda.get_device_name() if backend.device.startswith("cuda") else "cpu"
                print(f"{len(jobs)} jobs, {kind}, device {backend.device} ({device_name}), "
                      f"dtype {args.dtype}, max_new_tokens {args.max_new_tokens}")  # fmt: skip
                backend.translate(jobs[: min(2, len(jobs))])  # warm-up (CUDA context, kernels)
            tokenizer = backend._tokenizer
            started = time.perf_counter()
            outputs = backend.translate(jobs)
            elapsed = time.perf_counter() - started
            generated = sum(
                len(tokenizer(text, add_special_tokens=False).input_ids) for text in outputs if isinstance(text, str)
            )
            rate = len(jobs) / elapsed
            if baseline is None:
                baseline, baseline_rate = outputs, rate
                note = "anchor (one at a time)" if batch_size == 1 else "first batch size"
            else:
                differ = sum(1 for a, b in zip(outputs, baseline, strict=True) if a != b)
                note = f"{rate / baseline_rate:.2f}x the first; {differ}/{len(jobs)} outputs differ from it"
            print(f"batch {batch_size:4d}: {rate:8.2f} jobs/s {generated / elapsed:9.1f} tokens/s  {note}")
            backend.close()


if __name__ == "__main__":
    main()
