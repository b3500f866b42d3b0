"""One place for model-family facts: which class loads a checkpoint, how its processor sizes images, which
parameter groups can be frozen, which attention kernel to use, and what vLLM needs to serve it.

The family is chosen from the checkpoint's `config.json` `model_type`, never from a substring of its name
(a folder called `my-qwen3-run` may hold a Qwen2.5-VL). Everything that can be checked without loading weights
(`resolve_checkpoint`, `family_of`) raises typed errors, so `docvl train` fails in a second, not after a load.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docvl.config import ModelConfig
from docvl.errors import ConfigError
from docvl.models.tiny import TINY_PREFIX, resolve_tiny

FREEZE_GROUPS = ("vision", "mlp", "llm")
# The token that closes a chat turn. Every supported family's chat template (Qwen2-VL, Qwen2.5-VL, Qwen3-VL)
# uses it: training learns it as the end of the reply, generation stops on it.
END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class ModelFamily:
    """Facts about one model family. `vllm_*` fields are what `serve` passes to vLLM for such a checkpoint."""

    name: str
    model_type: str
    model_class: str
    patch_size: int
    merge_size: int = 2
    # The vision tower's module name; saved Qwen2.5-VL weights call it `visual.`, loaded ones `model.visual.`.
    vision_module: str = "visual"
    # A vision-side parameter whose name contains one of these is part of the projector (tune_mm_mlp);
    # Qwen3-VL's deepstack mergers are projectors too.
    merger_markers: tuple[str, ...] = ("merger",)
    vllm_architecture: str = ""

    @property
    def factor(self) -> int:
        """Side of the image square one visual token covers after the spatial merge (28 for Qwen2.x, 32 for Qwen3)."""
        return self.patch_size * self.merge_size

    def resize(self, width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
        """(width, height) the processor resizes an image to: its `smart_resize` rule (both sides multiples of
        `factor`, area within [min_pixels, max_pixels], aspect ratio kept as closely as possible)."""
        factor = self.factor
        h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
        if h_bar * w_bar > max_pixels:
            beta = math.sqrt(height * width / max_pixels)
            h_bar = max(factor, math.floor(height / beta / factor) * factor)
            w_bar = max(factor, math.floor(width / beta / factor) * factor)
        elif h_bar * w_bar < min_pixels:
            beta = math.sqrt(min_pixels / (height * width))
            h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
        return w_bar, h_bar

    def image_tokens(self, width: int, height: int, min_pixels: int, max_pixels: int) -> int:
        """Visual tokens of an image of (width, height) pixels in the prompt, after resize and spatial merge."""
        w_bar, h_bar = self.resize(width, height, min_pixels, max_pixels)
        return (w_bar // self.factor) * (h_bar // self.factor)


FAMILIES: dict[str, ModelFamily] = {
    f.model_type: f
    for f in (
        ModelFamily(
            "Qwen2-VL",
            "qwen2_vl",
            "Qwen2VLForConditionalGeneration",
            14,
            vllm_architecture="Qwen2VLForConditionalGeneration",
        ),
        ModelFamily(
            "Qwen2.5-VL",
            "qwen2_5_vl",
            "Qwen2_5_VLForConditionalGeneration",
            14,
            vllm_architecture="Qwen2_5_VLForConditionalGeneration",
        ),
        ModelFamily(
            "Qwen3-VL",
            "qwen3_vl",
            "Qwen3VLForConditionalGeneration",
            16,
            vllm_architecture="Qwen3VLForConditionalGeneration",
        ),
        ModelFamily(
            "Qwen3-VL-MoE",
            "qwen3_vl_moe",
            "Qwen3VLMoeForConditionalGeneration",
            16,
            vllm_architecture="Qwen3VLMoeForConditionalGeneration",
        ),
    )
}


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
HUB_CONNECT_TIMEOUT_S = 3.0


def _looks_like_path(name: str) -> bool:
    """A name is a local path unless it has the shape of a hub id (`owner/name`) and its first part is not a
    folder here: `runs/final` with a `runs/` folder is a path (a typo in it must not become a hub download)."""
    if name.startswith((".", "/", "~")) or not _HUB_ID.match(name):
        return True
    return Path(name).exists() or Path(name.split("/", 1)[0]).is_dir()


def resolve_checkpoint(name_or_path: str) -> Path | str:
    """A local checkpoint folder (tiny models built on demand) or a hub id, checked to have a config.json."""
    if name_or_path.startswith(TINY_PREFIX):
        return resolve_tiny(name_or_path)
    path = Path(name_or_path).expanduser()
    if _looks_like_path(name_or_path):
        if not path.exists():
            raise ConfigError(f"no checkpoint at {name_or_path} (no such folder)")
        if not path.is_dir():
            raise ConfigError("a checkpoint is a folder, not a file", path)
        if not (path / "config.json").is_file():
            raise ConfigError("model folder has no config.json (not a Hugging Face checkpoint)", path)
        return path
    return name_or_path


def _hub_reachable() -> bool:
    """Whether the Hugging Face hub answers a TCP connect within a few seconds (never when offline), so that an
    unreachable hub is one line at once instead of minutes of download retries."""
    import socket
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=HUB_CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def read_model_config(checkpoint: Path | str) -> dict[str, Any]:
    """The checkpoint's config.json as a dict (downloaded for a hub id, or from the local HF cache offline)."""
    if isinstance(checkpoint, Path):
        file = checkpoint / "config.json"
    else:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        cached = try_to_load_from_cache(checkpoint, "config.json")
        if not _hub_reachable():
            if not isinstance(cached, str):
                raise ConfigError(
                    f"no checkpoint folder '{checkpoint}' here, and the Hugging Face hub (where it would be a model "
                    "id) cannot be reached and has not cached it"
                )
            file = Path(cached)
        else:
            try:
                file = Path(hf_hub_download(checkpoint, "config.json"))
            except Exception as exc:  # unknown repo, no access: all end the same way for the user
                raise ConfigError(
                    f"not a local folder, and config.json of hub id '{checkpoint}' cannot be fetched "
                    f"({type(exc).__name__})"
                ) from None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config.json does not parse ({exc})", file) from None


def family_of(checkpoint: Path | str) -> ModelFamily:
    """The family of a checkpoint, from its config.json `model_type`."""
    model_type = read_model_config(checkpoint).get("model_type")
    if model_type not in FAMILIES:
        known = ", ".join(FAMILIES)
        raise ConfigError(f"unsupported model_type '{model_type}'", checkpoint, f"docvl supports {known}")
    return FAMILIES[model_type]


def attn_implementation(requested: str, *, cuda: bool | None = None) -> str:
    """`auto` -> flash_attention_2 when on GPU and importable, else sdpa; an explicit choice is kept."""
    if requested != "auto":
        return requested
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    return "flash_attention_2" if cuda and importlib.util.find_spec("flash_attn") else "sdpa"


def torch_dtype(requested: str, *, bf16: bool) -> Any:
    """`auto` -> bfloat16 when training in bf16, else float32 (CPU kernels and tiny models want float32)."""
    import torch

    if requested == "auto":
        return torch.bfloat16 if bf16 else torch.float32
    return getattr(torch, requested)


def set_image_size(processor: Any, min_pixels: int, max_pixels: int) -> None:
    """Apply min/max pixels through the image processor's `size` dict: `smart_resize` and vLLM read `size`,
    so setting only the `min_pixels`/`max_pixels` attributes would leave the token count stale."""
    if min_pixels > max_pixels:
        raise ConfigError(f"model.min_pixels ({min_pixels}) is larger than model.max_pixels ({max_pixels})")
    image_processor = processor.image_processor
    image_processor.size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if getattr(image_processor, name, None) is not None:
            setattr(image_processor, name, value)


def load_processor(checkpoint: Path | str, model: ModelConfig | None = None) -> Any:
    """The checkpoint's processor; with a model config, its image size set to the config's min/max pixels."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(checkpoint))
    if model is not None:
        set_image_size(processor, model.min_pixels, model.max_pixels)
    return processor


def load_model(checkpoint: Path | str, model: ModelConfig, *, bf16: bool = False) -> Any:
    """The model with the family's class, dtype and attention kernel from the config."""
    import transformers

    family = family_of(checkpoint)
    cls = getattr(transformers, family.model_class)
    return cls.from_pretrained(
        str(checkpoint),
        dtype=torch_dtype(model.torch_dtype, bf16=bf16),
        attn_implementation=attn_implementation(model.attn_implementation),
    )


def param_group(name: str, family: ModelFamily) -> str:
    """`vision`, `mlp` (the merger/projector) or `llm` for a parameter name of a model of `family`."""
    if name.startswith(f"{family.vision_module}.") or f".{family.vision_module}." in name:
        return "mlp" if any(marker in name for marker in family.merger_markers) else "vision"
    return "llm"


def apply_freeze(model: Any, family: ModelFamily, config: ModelConfig) -> dict[str, int]:
    """Set requires_grad per group from tune_mm_vision / tune_mm_mlp / tune_mm_llm; returns trainable counts."""
    train = {"vision": config.tune_mm_vision, "mlp": config.tune_mm_mlp, "llm": config.tune_mm_llm}
    if not any(train.values()):
        raise ConfigError("model.tune_mm_vision, tune_mm_mlp and tune_mm_llm are all false: nothing to train")
    counts = dict.fromkeys(FREEZE_GROUPS, 0)
    for name, param in model.named_parameters():
        group = param_group(name, family)
        param.requires_grad_(train[group])
        if train[group]:
            counts[group] += param.numel()
    return counts


def vllm_args(checkpoint: str | Path, *, max_model_len: int | None = None, images_per_prompt: int = 1) -> list[str]:
    """Arguments for `vllm serve CHECKPOINT ...` that every docvl checkpoint needs (the serve engineer adds
    host, port, parallelism and memory settings from `serve`). Image sizing needs no flag: vLLM reads the
    processor's `size` that docvl saved into the checkpoint."""
    args = ["--limit-mm-per-prompt", json.dumps({"image": images_per_prompt, "video": 0})]
    if max_model_len:
        args += ["--max-model-len", str(max_model_len)]
    return args
