"""The exact `vllm serve` command for a checkpoint, derived from the checkpoint and its config.

Family facts (`--limit-mm-per-prompt`, and what one visual token covers) come from `docvl.models.registry`;
sizes and parallelism from `serve`; the context length from what the config renders and generates. The
list is data, not a shell string, so `--dry-run` prints it and a test pins it.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from docvl.config import DocvlConfig
from docvl.errors import ConfigError

# Tokens for the chat template and the prompt text around the image (the docvl-v1 prompt is ~150).
PROMPT_TOKEN_BUDGET = 512
_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def served_model_name(checkpoint: str | Path, config: DocvlConfig) -> str:
    """The name clients ask for: `serve.served_model_name`, else the checkpoint folder's name."""
    return config.serve.served_model_name or Path(str(checkpoint)).name


def max_model_len(checkpoint: str | Path, config: DocvlConfig) -> int:
    """`serve.max_model_len`, else room for the largest page image the config can send (the family's image
    token count, `docvl.models.registry.ModelFamily.image_tokens`), the prompt and
    `convert.max_new_tokens`, rounded up to a multiple of 1024."""
    from docvl.models.registry import family_of

    if config.serve.max_model_len:
        return config.serve.max_model_len
    side, model = config.data.target_longest_image_dim, config.model  # a square page: the most tokens at that side
    image_tokens = family_of(Path(checkpoint)).image_tokens(side, side, model.min_pixels, model.max_pixels)
    needed = image_tokens + PROMPT_TOKEN_BUDGET + config.convert.max_new_tokens
    return -(-needed // 1024) * 1024


def has_chat_template(checkpoint: Path) -> bool:
    """Whether vLLM will find a chat template in the checkpoint (processor or tokenizer files)."""
    if any((checkpoint / name).is_file() for name in _TEMPLATE_FILES):
        return True
    tokenizer_config = checkpoint / "tokenizer_config.json"
    try:
        return bool(json.loads(tokenizer_config.read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError):
        return False


def build_vllm_command(
    checkpoint: str | Path,
    config: DocvlConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    extra_args: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """`[vllm, serve, CKPT, ...]` for `checkpoint` (a local folder) under `config`; extra args go last,
    so a user's flag wins over ours."""
    from docvl.models.registry import vllm_args

    path = Path(checkpoint)
    serve = config.serve
    if not (path / "config.json").is_file():
        raise ConfigError("not a checkpoint folder (no config.json)", path)
    command = [
        *shlex.split(serve.vllm_executable),
        "serve",
        str(path),
        "--served-model-name",
        served_model_name(path, config),
        "--host",
        host or serve.host,
        "--port",
        str(port if port is not None else serve.port),
        *vllm_args(path, max_model_len=max_model_len(path, config), images_per_prompt=1),
        "--gpu-memory-utilization",
        str(serve.gpu_memory_utilization),
        "--tensor-parallel-size",
        str(serve.tensor_parallel_size),
        "--data-parallel-size",
        str(serve.data_parallel_size),
        "--max-num-seqs",
        str(serve.max_num_seqs),
        "--dtype",
        config.model.torch_dtype,
    ]
    if serve.chat_template:
        command += ["--chat-template", serve.chat_template]
    elif not has_chat_template(path):
        raise ConfigError("checkpoint has no chat template for vLLM", path, "set serve.chat_template to a Jinja file")
    return command + list(extra_args)
