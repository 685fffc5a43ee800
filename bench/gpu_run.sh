#!/usr/bin/env bash
# On the GPU machine (the device tool; carry .whl, filled by bench/gpu_wheels.sh): install the
# carried wheels beside the image's packages, then run the LoRA benchmark, writing to $OUT.
#
#   bash bench/gpu_run.sh [train_gpu.py options, e.g. --only trl-packed,ours-packed-gc --steps 15]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
out="${OUT:-/tmp/bench}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 bench/train_gpu.py --data .whl/bench_tokens.json.gz --out "$out" "$@" 2>&1 | tee "$out/train_gpu.log"
