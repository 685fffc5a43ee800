#!/usr/bin/env bash
# Set up sft-verify on a fresh machine (idempotent): a virtual environment with every extra the
# tests use, nltk's punkt model, and — as root — the Docker engine and the offline sandbox image.
#
#   scripts/setup.sh            # everything
#   SKIP_DOCKER=1 scripts/setup.sh   # no Docker (code checks then report `error`, exit code 2)
#
# torch is pinned to 2.13.0: on these machines that is a CPU build on local disk; an unpinned torch
# would pull a multi-GB CUDA build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
say() { printf '[setup] %s\n' "$*"; }

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check --quiet)
"${PIP[@]}" install --upgrade pip
say "installing torch==2.13.0 (CPU build)"
"${PIP[@]}" install "torch==2.13.0"
say "installing sft-verify with its extras"
"${PIP[@]}" install -e ".[train,translation,translation-embeddings,datasets,dedup,ray,dev]"

say "installing nltk's English punkt model (offline copy from PyPI's llama-index-core wheel)"
.venv/bin/verify data punkt

if [ "${SKIP_DOCKER:-0}" = 1 ]; then
    say "SKIP_DOCKER=1: no Docker engine; code checks will report error verdicts"
else
    PYTHON="$HERE/.venv/bin/python" bash scripts/setup_docker.sh
fi
say "ready: . .venv/bin/activate && verify run examples/mixed.jsonl -o out --min-pass-rate 0.5"
