#!/usr/bin/env bash
# GPU checks and speed in one JSON; at most ~8 minutes on an NVIDIA GPU.
#
#   bash benchmarks/gpu.sh [--output benchmarks/results/gpu.json]   # on a GPU machine
#   bash benchmarks/gpu.sh --dry-run --output /tmp/gpu.json         # the same code on CPU, tiny sizes
#
# Parity of the fixtures GPU vs CPU (1e-4), inference q/s per preset (both layouts, float32 and
# mixed precision, XLA on and off), the training step per preset, two epochs of the synthetic
# preset. See benchmarks/gpu.py. PYTHON overrides the interpreter (default: .venv/bin/python
# of this checkout, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
if [[ " $* " != *" --dry-run "* ]] && command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout --signal=INT 480 "$PY" benchmarks/gpu.py "$@"
