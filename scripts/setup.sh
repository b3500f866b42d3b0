#!/usr/bin/env bash
# Set up .venv with docvl, its training, CPU-serving and Ray extras and the test tools, on a CPU machine or a GPU one.
# torch/torchvision are pinned to the pair that builds Qwen-VL processors with transformers 5.x on CPU;
# DeepSpeed is installed without prebuilt ops (they compile on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export DS_BUILD_OPS=0 PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[train,serve-cpu,ray,dev]"
echo "docvl installed in .venv ($(.venv/bin/docvl --version))"
