"""Model souping: one checkpoint whose weights are the element-wise mean of several checkpoints of one model.

olmOCR 2 averages the weights of runs that differ only in their seed. The checkpoints must be the same model:
the same `model` section in their `docvl.yaml` and the same tensor names and shapes; the first difference is
one error naming the checkpoint. Means are taken in float32 and stored in each tensor's own dtype; tensors
that are not floating point (integer buffers) must be equal in every checkpoint. Tensors are read one at a
time from the safetensors files, so memory holds one output shard, not every checkpoint.

The output has the first checkpoint's shard layout, model and processor files, and its `docvl.yaml` with
`model.souped_from` listing the sources. It is written into a staging folder beside DIR and renamed into place:
DIR is never half written. A LoRA adapter checkpoint (`checkpoint-N/` of a LoRA run) is first folded into its
base model (the config's `model.name_or_path`), as training's final export does: the mean of adapters is not
the mean of the models they make.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docvl.config import CONFIG_FILENAME, DocvlConfig, find_saved_config, save_config
from docvl.errors import UsageError
from docvl.io import check_writable

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
ADAPTER_CONFIG = "adapter_config.json"
# Weights are written by the soup; the rest of a checkpoint folder that a loaded model needs is copied.
_MODEL_FILES = ("config.json", "generation_config.json")
_PROCESSOR_MARKERS = ("tokenizer", "processor", "chat_template", "special_tokens", "vocab", "merges", "added_tokens")
_SOUP_KEY = "souped_from"


@dataclass(frozen=True)
class Source:
    """One checkpoint to average: `weights` holds its full weights (a merged copy for a LoRA adapter),
    `checkpoint` is the folder the user named (for messages and the record)."""

    checkpoint: Path
    weights: Path
    config: DocvlConfig


def is_adapter(checkpoint: Path) -> bool:
    """A LoRA adapter checkpoint: adapter files, no full weights."""
    return (checkpoint / ADAPTER_CONFIG).is_file() and not (
        (checkpoint / WEIGHTS).is_file() or (checkpoint / WEIGHTS_INDEX).is_file()
    )


def _shards(checkpoint: Path) -> dict[str, str]:
    """Tensor name -> shard file name of a full-weights checkpoint, or UsageError saying what it is instead."""
    index = checkpoint / WEIGHTS_INDEX
    if index.is_file():
        return dict(json.loads(index.read_text(encoding="utf-8"))["weight_map"])
    if (checkpoint / WEIGHTS).is_file():
        from safetensors import safe_open

        with safe_open(str(checkpoint / WEIGHTS), framework="pt") as handle:
            return {name: WEIGHTS for name in handle.keys()}  # noqa: SIM118 (safe_open is not a dict)
    raise UsageError(f"no {WEIGHTS} or {WEIGHTS_INDEX}: not a checkpoint with full weights", checkpoint)


def _config_of(checkpoint: Path) -> DocvlConfig:
    if not checkpoint.is_dir():
        raise UsageError("checkpoint folder not found", checkpoint)
    config = find_saved_config(checkpoint)
    if config is None:
        raise UsageError(f"no {CONFIG_FILENAME}: not a docvl checkpoint", checkpoint)
    return config


def _first_difference(a: Any, b: Any, where: str) -> str | None:
    """The first key path at which two config values differ, as `key: A != B`."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            found = _first_difference(a.get(key), b.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def _model_section(config: DocvlConfig) -> dict[str, Any]:
    section = config.model.model_dump(mode="json")
    section.pop(_SOUP_KEY, None)  # a soup of soups is still the same model
    return section


def check_same_config(checkpoints: list[Path]) -> list[DocvlConfig]:
    """Each checkpoint's config, after checking they share one `model` section (UsageError naming the first
    checkpoint that differs, and the key)."""
    if len(checkpoints) < 2:
        raise UsageError("a soup needs at least two checkpoints", hint="docvl export --soup CKPT CKPT... --out DIR")
    configs = [_config_of(path) for path in checkpoints]
    for path, config in zip(checkpoints[1:], configs[1:], strict=True):
        difference = _first_difference(_model_section(configs[0]), _model_section(config), "model")
        if difference:
            raise UsageError(f"not the same model as {checkpoints[0]}: {difference}", path)
    return configs


def check_same_tensors(sources: list[Source]) -> list[dict[str, str]]:
    """Each source's tensor -> shard map, after checking they hold the same tensor names (UsageError naming the
    checkpoint and the first name only one side has)."""
    shards = [_shards(source.weights) for source in sources]
    first = sources[0].checkpoint
    for source, names in zip(sources[1:], shards[1:], strict=True):
        missing = sorted(set(shards[0]) - set(names))
        extra = sorted(set(names) - set(shards[0]))
        if missing or extra:
            what = f"has no tensor '{missing[0]}'" if missing else f"has a tensor '{extra[0]}'"
            raise UsageError(f"not the same model as {first}: it {what} that the other lacks", source.checkpoint)
    return shards


def merge_adapter(checkpoint: Path, config: DocvlConfig, target: Path) -> Path:
    """A LoRA adapter checkpoint folded into its base model, written to `target` as a full-weights checkpoint
    (the base's processor files, then the checkpoint's own over them)."""
    from peft import PeftModel

    from docvl.models import registry

    base = registry.resolve_checkpoint(config.model.name_or_path)
    model = registry.load_model(base, config.model, bf16=config.train.bf16)
    PeftModel.from_pretrained(model, str(checkpoint)).merge_and_unload().save_pretrained(target)
    for folder in (Path(base), checkpoint):
        if folder.is_dir():
            _copy_model_files(folder, target, processor_only=True)
    return target


def _mean_shard(sources: list[Source], shards: list[dict[str, str]], names: list[str]) -> dict[str, Any]:
    """The mean of the tensors `names` over the sources (UsageError at a shape or dtype mismatch)."""
    import torch
    from safetensors import safe_open

    handles: dict[Path, Any] = {}

    def tensor(index: int, name: str) -> torch.Tensor:
        path = sources[index].weights / shards[index][name]
        if path not in handles:
            handles[path] = safe_open(str(path), framework="pt")
        return handles[path].get_tensor(name)

    first = sources[0].checkpoint
    out = {}
    for name in names:
        base = tensor(0, name)
        total = base.to(torch.float32) if base.is_floating_point() else None
        for index in range(1, len(sources)):
            other = tensor(index, name)
            if other.shape != base.shape or other.dtype != base.dtype:
                raise UsageError(
                    f"not the same model as {first}: tensor '{name}' is {other.dtype} "
                    f"{list(other.shape)} here, {base.dtype} {list(base.shape)} there",
                    sources[index].checkpoint,
                )
            if total is not None:
                total += other.to(torch.float32)
            elif not torch.equal(other, base):
                raise UsageError(
                    f"tensor '{name}' ({base.dtype}) differs from {first}'s and cannot be averaged",
                    sources[index].checkpoint,
                )
        out[name] = (total / len(sources)).to(base.dtype) if total is not None else base
    return out


def _copy_model_files(source: Path, target: Path, *, processor_only: bool = False) -> None:
    """A checkpoint's model config and processor/tokenizer files (no weights, no trainer state)."""
    for path in sorted(source.iterdir()):
        name = path.name
        model_file = name in _MODEL_FILES and not processor_only
        if path.is_file() and (model_file or any(marker in name for marker in _PROCESSOR_MARKERS)):
            shutil.copy2(path, target / name)


def _write(sources: list[Source], shards: list[dict[str, str]], staging: Path) -> None:
    from safetensors.torch import save_file

    by_file: dict[str, list[str]] = {}
    for name, file in shards[0].items():
        by_file.setdefault(file, []).append(name)
    for file, names in sorted(by_file.items()):
        save_file(_mean_shard(sources, shards, names), str(staging / file), metadata={"format": "pt"})
    first = sources[0].weights
    if (first / WEIGHTS_INDEX).is_file():
        shutil.copy2(first / WEIGHTS_INDEX, staging / WEIGHTS_INDEX)
    _copy_model_files(first, staging)
    config = sources[0].config
    record = [str(source.checkpoint.resolve()) for source in sources]
    save_config(config.model_copy(update={"model": config.model.model_copy(update={_SOUP_KEY: record})}), staging)


def soup(checkpoints: list[Path], out: Path) -> Path:
    """Write the element-wise mean of `checkpoints` (one model) to `out`, atomically; returns `out`.

    UsageError when they are not one model or when `out` already holds files."""
    checkpoints = [Path(path) for path in checkpoints]
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError("already exists and is not an empty folder", out, "choose another --out")
    check_writable(out, folder=True)
    configs = check_same_config(checkpoints)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.soup-", dir=out.parent))
    try:
        sources = [
            Source(path, merge_adapter(path, config, work / f"merged-{i}") if is_adapter(path) else path, config)
            for i, (path, config) in enumerate(zip(checkpoints, configs, strict=True))
        ]
        shards = check_same_tensors(sources)
        staging = work / "soup"
        staging.mkdir(mode=0o777)  # the umask applies, as for any folder the user makes
        _write(sources, shards, staging)
        os.replace(staging, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
