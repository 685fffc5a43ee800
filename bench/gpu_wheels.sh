#!/usr/bin/env bash
# Fetch, into .whl/ (git-ignored), the wheels bench/train_gpu.py needs on a GPU machine whose
# image has torch, transformers, peft, accelerate, rich, pyarrow and pandas but not these
# (Python 3.12, x86-64 Linux), plus the pre-tokenized benchmark data. Versions are the ones this
# checkout's .venv runs, so both machines compare the same TRL.
#
#   bash bench/gpu_wheels.sh            # then carry .whl and run bench/gpu_run.sh there
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
mkdir -p .whl
for name in trl datasets dill multiprocess pydantic pydantic_core annotated-types typing-inspection; do
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$name==$(version "$name")"
done
[ -f .whl/bench_tokens.json.gz ] || "$PY" bench/train_gpu.py --prepare .whl/bench_tokens.json.gz
du -sh .whl
