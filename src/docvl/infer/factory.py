"""Which engine a run gets: a server URL (HTTP), or a checkpoint run with `serve.backend` (a vLLM child process,
or transformers in this process); and the config a serve/convert run uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from docvl.infer.types import Engine, EngineError
from docvl.system import free_port

if TYPE_CHECKING:
    from docvl.config import DocvlConfig, ServeConfig


def resolve_backend(serve: ServeConfig) -> str:
    """`serve.backend`, with `auto` decided by the machine: vLLM needs a CUDA GPU and its own executable."""
    if serve.backend != "auto":
        return serve.backend
    import shutil

    import torch

    from docvl.infer.vllm_cmd import vllm_program

    return "vllm" if torch.cuda.is_available() and shutil.which(vllm_program(serve)[0]) else "transformers"


def open_engine(
    config: DocvlConfig,
    *,
    server: str | None = None,
    api_key: str | None = None,
    model: str | Path | None = None,
    log_dir: Path | None = None,
) -> Engine:
    """The engine for a run: `server` (an OpenAI-compatible URL; its first model unless `model` names one)
    or `model` (a checkpoint, run with `serve.backend`: vLLM as a child process, or transformers here)."""
    if server:
        from docvl.infer.http_client import OpenAIEngine

        engine = OpenAIEngine(
            server,
            api_key=api_key,
            model=str(model) if model else None,
            timeout_s=config.convert.request_timeout_s,
            concurrency=config.convert.concurrency,
            connect_retries=config.convert.connect_retries,
        )
        try:
            engine.resolve_model()
        except BaseException:
            engine.close()
            raise
        return engine
    if model is None:
        raise EngineError("give a server URL or a model checkpoint")
    if resolve_backend(config.serve) == "transformers":
        from docvl.infer.local import TransformersEngine

        return TransformersEngine(model, config)
    from docvl.infer.vllm_server import VllmEngine
    from docvl.models.registry import resolve_checkpoint

    checkpoint = resolve_checkpoint(str(model))
    if not isinstance(checkpoint, Path):
        raise EngineError(f"vLLM serves local checkpoint folders; '{model}' is not one")
    port = free_port()
    return VllmEngine(checkpoint, config, port=port, log_path=(log_dir or Path(".")) / f"vllm-{port}.log")
