"""vLLM generation for GRPO on GPUs, in TRL's two modes, with settings derived from the checkpoint as `serve`
derives them (docvl.infer.vllm_cmd, docvl.models.registry).

* colocate: vLLM runs inside each training process; `grpo_vllm_kwargs` gives TRL's `GRPOConfig` its memory share,
  tensor parallelism and context length (the page image and prompt as `serve` sizes them, plus
  `grpo.max_completion_length`).
* server: a `trl vllm-serve` on GPUs of its own generates and receives each update's weights;
  `trl_vllm_serve_command` is its command (`docvl train CONFIG --vllm-server-command` prints it, from
  `server_command`), and the kwargs point the trainer at it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig


def generation_model_len(checkpoint: str | Path, config: DocvlConfig) -> int:
    """vLLM's context for GRPO: `serve`'s rule (`max_model_len`) with `grpo.max_completion_length` as the reply."""
    from docvl.infer.vllm_cmd import max_model_len

    reply = config.convert.model_copy(update={"max_new_tokens": config.grpo.max_completion_length})
    return max_model_len(checkpoint, config.model_copy(update={"convert": reply}))


def grpo_vllm_kwargs(checkpoint: str | Path, config: DocvlConfig) -> dict[str, Any]:
    """TRL GRPOConfig keyword arguments for generation: transformers (use_vllm False), or vLLM colocated/server."""
    grpo = config.grpo
    if not grpo.use_vllm:
        return {"use_vllm": False}
    if grpo.vllm_mode == "colocate":
        return {
            "use_vllm": True,
            "vllm_mode": "colocate",
            "vllm_gpu_memory_utilization": grpo.vllm_gpu_memory_utilization,
            "vllm_tensor_parallel_size": grpo.vllm_tensor_parallel_size,
            "vllm_max_model_length": generation_model_len(checkpoint, config),
            "vllm_enable_sleep_mode": grpo.vllm_enable_sleep_mode,
        }
    return {
        "use_vllm": True,
        "vllm_mode": "server",
        "vllm_server_host": grpo.vllm_server_host,
        "vllm_server_port": grpo.vllm_server_port,
        "vllm_server_timeout": grpo.vllm_server_timeout,
        "vllm_group_port": grpo.vllm_group_port,
    }


def trl_vllm_serve_command(checkpoint: str | Path, config: DocvlConfig) -> list[str]:
    """`trl vllm-serve` for GRPO's server mode: the checkpoint with `serve`'s parallelism, memory and dtype, the
    family's vLLM arguments (one image per prompt) and GRPO's context length, at `grpo.vllm_server_host:port`.
    Arguments TRL does not know go on to `vllm serve`."""
    from docvl.models.registry import vllm_args

    serve, grpo = config.serve, config.grpo
    return [
        *shlex.split(grpo.trl_executable),
        "vllm-serve",
        "--model",
        str(checkpoint),
        "--host",
        grpo.vllm_server_host,
        "--port",
        str(grpo.vllm_server_port),
        "--tensor-parallel-size",
        str(serve.tensor_parallel_size),
        "--data-parallel-size",
        str(serve.data_parallel_size),
        "--gpu-memory-utilization",
        str(serve.gpu_memory_utilization),
        "--dtype",
        config.model.torch_dtype,
        *vllm_args(checkpoint, max_model_len=generation_model_len(checkpoint, config), images_per_prompt=1),
    ]


def server_command(config: DocvlConfig) -> list[str]:
    """`trl_vllm_serve_command` for the checkpoint a GRPO config starts from, as that checkpoint shows pages."""
    from docvl.models.registry import resolve_checkpoint
    from docvl.train.grpo_plan import checkpoint_view

    checkpoint = resolve_checkpoint(config.model.name_or_path)
    return trl_vllm_serve_command(checkpoint, checkpoint_view(config, checkpoint))
