"""Tiny random-init models, a tiny chat tokenizer and synthetic verified data, for tests and CPU benchmarks.

Real architectures (llama, qwen2) at toy sizes exercise the same code paths as real models in
seconds on a CPU. The tokenizer is a byte-level BPE trained in memory on a fixed text, with a
ChatML template like SmolLM2's, so nothing is downloaded. The synthetic conversations
are arithmetic questions with a fixed answer pattern, which a model learns within a few
steps: a falling loss is a meaningful signal.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "What is 12 + 7? 12 + 7 = 19. The answer is 19.",
    "You are a helpful assistant. Answer the question and stop.",
    "system user assistant tool The the answer question is what of and to in",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 + - * = ? . ,",
    "Please explain the steps. First add the numbers, then check the result.",
    "Hello! How can I help you today? Thank you, that is correct.",
]


def tiny_tokenizer(chat_template: str = CHATML_TEMPLATE, adds_bos: bool = False, vocab_size: int = 320) -> Any:
    """A byte-level BPE tokenizer with ChatML specials; `adds_bos` makes it prepend <s> like Llama-2 tokenizers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(_CORPUS * 4, trainer)
    if adds_bos:
        bos_id = backend.token_to_id("<s>")
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=chat_template,
    )


def tiny_config(arch: str, vocab_size: int, **overrides: Any) -> Any:
    """A 2-layer config of a real architecture: llama (no biases, tied head) or qwen2 (q/k/v biases, separate head)."""
    from transformers import LlamaConfig, Qwen2Config

    shape = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 2048,
    }
    shape.update(overrides)
    if arch == "llama":
        return LlamaConfig(tie_word_embeddings=True, **shape)
    if arch == "qwen2":
        return Qwen2Config(tie_word_embeddings=False, **shape)
    raise ValueError(f"unknown tiny architecture {arch!r}; expected llama or qwen2")


def tiny_model_dir(
    directory: Path, arch: str = "llama", tokenizer: Any = None, seed: int = 0, **overrides: Any
) -> Path:
    """Write a random-init model of `arch` plus its tokenizer into `directory` (a from_pretrained folder)."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer()
    config = tiny_config(arch, len(tokenizer), **overrides)
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


def arithmetic_rows(count: int, seed: int = 0, multi_turn_every: int = 4) -> list[dict[str, Any]]:
    """Canonical rows (DESIGN.md §1) of addition questions with checkable answers; every
    `multi_turn_every`-th row has two user/assistant exchanges and a system prompt."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        messages: list[dict[str, str]] = []
        if multi_turn_every and index % multi_turn_every == multi_turn_every - 1:
            c = rng.randint(1, 9)
            messages += [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": f"What is {a} + {b}?"},
                {"role": "assistant", "content": f"{a} + {b} = {a + b}. The answer is {a + b}."},
                {"role": "user", "content": f"And {a + b} + {c}?"},
                {"role": "assistant", "content": f"{a + b} + {c} = {a + b + c}. The answer is {a + b + c}."},
            ]
            answer = a + b + c
        else:
            messages += [
                {"role": "user", "content": f"What is {a} + {b}?"},
                {"role": "assistant", "content": f"{a} + {b} = {a + b}. The answer is {a + b}."},
            ]
            answer = a + b
        rows.append({"id": f"add-{index}", "messages": messages, "checks": {"math": {"answer": str(answer)}}})
    return rows


def write_vouched_dir(rows: list[dict[str, Any]], out_dir: Path, input_format: str = "messages") -> Path:
    """A folder shaped like `verify run` output (kept.jsonl + manifest.json) whose rows all count as kept.

    Only for tests that need to tamper with a run's output; end-to-end tests produce their
    input with the real `verify run`."""
    from verify.manifest import KEPT, row_hash, write_manifest

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    (out_dir / KEPT).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    with tempfile.NamedTemporaryFile("w", suffix=".hashes", delete=False, encoding="ascii") as hashes:
        for line in lines:
            hashes.write(row_hash(line.encode("utf-8")) + "\n")
    header = {"tool": "sft-verify", "version": "test", "input": {"path": "synthetic", "format": input_format}}
    write_manifest(out_dir, header, Path(hashes.name), len(lines))
    Path(hashes.name).unlink()
    return out_dir
