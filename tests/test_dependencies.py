"""The dependencies in pyproject.toml are exactly what `src/docvl` imports: nothing used goes undeclared (a user's
`pip install docvl` would fail at run time), nothing declared goes unused unless it is loaded by another package
at run time (listed below with the reason)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Import name -> distribution name, where they differ.
DISTRIBUTION = {
    "PIL": "pillow",
    "yaml": "pyyaml",
    "flash_attn": "flash-attn",
    "bs4": "beautifulsoup4",
    "markdown_it": "markdown-it-py",
}
# Declared but never imported by docvl: another package loads them when a config asks for it.
LOADED_BY_OTHERS = {
    "deepspeed": "transformers' Trainer, for train.deepspeed",
    "torchvision": "the Qwen-VL image processors of transformers",
    "tensorboard": "transformers' Trainer, for train.report_to: [tensorboard]",
    "flash-attn": "transformers, for model.attn_implementation: flash_attention_2",
    "vllm": "serve.vllm_executable, a program in its own environment",
}
TOOL_EXTRAS = ("dev",)  # test and lint tools, not imported by the package


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> dict[str, str]:
    """Third-party distributions imported anywhere in src/docvl (functions included) -> one importing file."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "src" / "docvl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "docvl" and top not in sys.stdlib_module_names:
                    found.setdefault(normalize(DISTRIBUTION.get(top, top)), str(path.relative_to(REPO)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [deps for name, deps in project["optional-dependencies"].items() if name not in TOOL_EXTRAS]
    requirements = [*project["dependencies"], *(req for deps in extras for req in deps)]
    return {normalize(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]) for req in requirements}


def test_every_import_is_declared() -> None:
    declared = declared_distributions()
    missing = {dist: where for dist, where in imported_distributions().items() if dist not in declared}
    assert not missing, f"imported but not in pyproject.toml: {missing}"


def test_every_declaration_is_imported() -> None:
    unused = declared_distributions() - set(imported_distributions()) - {normalize(n) for n in LOADED_BY_OTHERS}
    assert not unused, f"declared in pyproject.toml but never imported by src/docvl: {sorted(unused)}"


def test_the_walk_sees_imports_inside_functions() -> None:
    imported = imported_distributions()
    assert imported["huggingface-hub"] == "src/docvl/data/olmocr_mix.py"  # imported inside a function there
    assert "pillow" in imported and "pyyaml" in imported
    assert imported["trl"].startswith("src/docvl/train/grpo")  # the training extra's GRPO
