"""`docvl env`: what is installed and what each command can use, for bug reports and first-day setup.

Versions are read from package metadata, never by importing (importing torch or vllm takes seconds, and a
broken install should be reported, not crash the report). Only the CUDA probe imports torch, and only when
torch is installed.
"""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from docvl import __version__

PACKAGES = (
    "typer",
    "rich",
    "pydantic",
    "pypdfium2",
    "sympy",
    "datasets",
    "torch",
    "torchvision",
    "transformers",
    "accelerate",
    "deepspeed",
    "peft",
    "flash-attn",
    "vllm",
)
NEEDS = {
    "prepare / validate": ("pypdfium2", "pydantic"),
    "validate --tokens": ("torch", "torchvision", "transformers"),
    "train": ("torch", "torchvision", "transformers", "accelerate"),
    "train with train.deepspeed": ("deepspeed",),
    "train with flash_attention_2": ("flash-attn",),
    "serve --backend transformers / convert --model / eval": ("torch", "torchvision", "transformers"),
    "serve --backend vllm": ("vllm (its own environment: serve.vllm_executable)",),
}


@dataclass(frozen=True)
class EnvReport:
    python: str
    platform: str
    docvl: str
    packages: dict[str, str | None]
    cuda: dict[str, Any]
    vllm_executable: str | None

    def missing_for(self) -> dict[str, list[str]]:
        """For each command, the packages it needs that are not installed."""
        missing = {}
        for command, needs in NEEDS.items():
            absent = [n for n in needs if self.packages.get(n.split(" ")[0]) is None]
            if command == "serve --backend vllm" and self.vllm_executable:
                absent = []
            if absent:
                missing[command] = absent
        return missing

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "missing": self.missing_for()}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cuda(torch_installed: bool) -> dict[str, Any]:
    if not torch_installed:
        return {"available": False, "reason": "torch is not installed"}
    try:
        import torch
    except Exception as exc:  # a broken torch install is a finding, not a crash
        return {"available": False, "reason": f"torch does not import: {exc}"}
    if not torch.cuda.is_available():
        return {"available": False, "torch_cuda_build": torch.version.cuda, "reason": "no CUDA device visible"}
    return {
        "available": True,
        "torch_cuda_build": torch.version.cuda,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "bf16": torch.cuda.is_bf16_supported(),
    }


def collect(vllm_executable: str | None = None) -> EnvReport:
    """The report; vLLM is looked for where `docvl serve` looks (default: the project's .venv-vllm, else PATH)."""
    from docvl.config import ServeConfig
    from docvl.infer.vllm_cmd import vllm_program

    packages = {name: _version(name) for name in PACKAGES}
    return EnvReport(
        python=sys.version.split()[0],
        platform=platform.platform(),
        docvl=__version__,
        packages=packages,
        cuda=_cuda(packages["torch"] is not None),
        vllm_executable=shutil.which(vllm_executable or vllm_program(ServeConfig())[0]),
    )
