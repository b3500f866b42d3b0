"""The exact `vllm serve` command for a checkpoint, derived from the checkpoint and its config, and what vLLM's
log says when it stops.

Family facts (`--limit-mm-per-prompt`, and what one visual token covers) come from `docvl.models.registry`;
sizes and parallelism from `serve`; the context length from what the config renders and generates. The
list is data, not a shell string, so `--dry-run` prints it and a test pins it.

The program is `serve.vllm_executable`; its default, `vllm`, means the `.venv-vllm` that `scripts/setup_vllm.sh`
makes beside docvl's sources when it exists, else `vllm` on PATH. On a machine without CUDA (vLLM's CPU build),
`--gpu-memory-utilization` is the share of RAM vLLM reserves for its worker (weights, KV cache, its own
Python), so it is sized from the model and the machine's memory instead of `serve.gpu_memory_utilization`;
`--dtype auto` becomes float32 (as docvl's transformers engine runs on CPU) and `--enforce-eager` skips
minutes of compilation. Arguments after `--` still win over all of these.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
from pathlib import Path

from docvl.config import DocvlConfig, ServeConfig
from docvl.errors import ConfigError, DocvlError
from docvl.infer.types import EngineError

# Tokens for the chat template and the prompt text around the image (the docvl-v1 prompt is ~150).
PROMPT_TOKEN_BUDGET = 512
_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")
VLLM_VENV = ".venv-vllm"
SETUP_HINT = "set it up with `bash scripts/setup_vllm.sh`, or point serve.vllm_executable at a vLLM install"
# What vLLM's CPU worker holds besides the KV cache and weights: its Python, torch, vLLM (measured: 0.95 GiB).
CPU_WORKER_OVERHEAD = 2 * 1024**3
# The most of the memory available at start that vLLM may reserve on CPU (the rest stays for docvl and the system).
CPU_AVAILABLE_SHARE = 0.5
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


class VllmMissingError(ConfigError):
    """vLLM is not installed where docvl looks, or its environment is broken (exit 2: set it up)."""


class VllmCannotServeError(EngineError):
    """vLLM started but refused the checkpoint; the message is vLLM's own reason, from its log."""


def project_vllm() -> Path | None:
    """`.venv-vllm/bin/vllm` beside the docvl sources this runs from (a checkout), if it was set up."""
    program = Path(__file__).resolve().parents[3] / VLLM_VENV / "bin" / "vllm"
    return program if program.is_file() else None


def vllm_program(serve: ServeConfig) -> list[str]:
    """`serve.vllm_executable` as argv words; `vllm` is the project's .venv-vllm when there is one."""
    if serve.vllm_executable == "vllm" and (program := project_vllm()):
        return [str(program)]
    return shlex.split(serve.vllm_executable)


def require_vllm(command: list[str]) -> None:
    """VllmMissingError (exit 2, with how to set it up) when the command's program cannot be found."""
    if not shutil.which(command[0]):
        raise VllmMissingError(f"vLLM program '{command[0]}' not found", hint=SETUP_HINT)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _memory_bytes() -> tuple[int, int]:
    """(total, available) RAM from /proc/meminfo."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0]) * 1024
    return fields["MemTotal"], fields.get("MemAvailable", fields["MemFree"])


def kv_bytes_per_token(checkpoint: Path, dtype: str) -> int:
    """Keys and values of one token in every text layer, from the checkpoint's config.json."""
    from docvl.models.registry import read_model_config

    config = read_model_config(checkpoint)
    text = config.get("text_config") or config
    heads = text["num_attention_heads"]
    head_dim = text.get("head_dim") or text["hidden_size"] // heads
    kv_heads = text.get("num_key_value_heads") or heads
    return 2 * text["num_hidden_layers"] * kv_heads * head_dim * _DTYPE_BYTES.get(dtype, 4)


def cpu_memory_utilization(
    checkpoint: Path, config: DocvlConfig, model_len: int, dtype: str, *, memory: tuple[int, int] | None = None
) -> float:
    """vLLM's `--gpu-memory-utilization` on CPU: the share of total RAM for its worker process, enough for the
    worker's own memory, the weights and `serve.max_num_seqs` sequences of `model_len` tokens, but at most
    CPU_AVAILABLE_SHARE of the memory available now (then fewer sequences run at once)."""
    total, available = memory or _memory_bytes()
    weights = sum(f.stat().st_size for f in checkpoint.glob("*.safetensors")) * (2 if dtype == "float32" else 1)
    kv = kv_bytes_per_token(checkpoint, dtype) * model_len * config.serve.max_num_seqs
    want = min(CPU_WORKER_OVERHEAD + weights + kv, CPU_AVAILABLE_SHARE * available)
    return max(0.01, math.floor(want / total * 100) / 100)


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
    cuda: bool | None = None,
) -> list[str]:
    """`[vllm, serve, CKPT, ...]` for `checkpoint` (a local folder) under `config`, for a CUDA machine or vLLM's
    CPU build (`cuda`: None asks torch); extra args go last, so a user's flag wins over ours."""
    from docvl.models.registry import vllm_args

    path = Path(checkpoint)
    serve = config.serve
    if not (path / "config.json").is_file():
        raise ConfigError("not a checkpoint folder (no config.json)", path)
    model_len = max_model_len(path, config)
    on_cpu = not (cuda_available() if cuda is None else cuda)
    dtype = "float32" if on_cpu and config.model.torch_dtype == "auto" else config.model.torch_dtype
    memory = cpu_memory_utilization(path, config, model_len, dtype) if on_cpu else serve.gpu_memory_utilization
    command = [
        *vllm_program(serve),
        "serve",
        str(path),
        "--served-model-name",
        served_model_name(path, config),
        "--host",
        host or serve.host,
        "--port",
        str(port if port is not None else serve.port),
        *vllm_args(path, max_model_len=model_len, images_per_prompt=1),
        "--gpu-memory-utilization",
        str(memory),
        "--tensor-parallel-size",
        str(serve.tensor_parallel_size),
        "--data-parallel-size",
        str(serve.data_parallel_size),
        "--max-num-seqs",
        str(serve.max_num_seqs),
        "--dtype",
        dtype,
        # the template gets the message's parts, as in training; vLLM's guess ("string") may join the image and
        # the prompt with a newline that training never saw (eval --parity found it with the tiny template)
        "--chat-template-content-format",
        "openai",
        *(["--enforce-eager"] if on_cpu else []),
    ]
    if serve.chat_template:
        command += ["--chat-template", serve.chat_template]
    elif not has_chat_template(path):
        raise ConfigError("checkpoint has no chat template for vLLM", path, "set serve.chat_template to a Jinja file")
    return command + list(extra_args)


def option_value(command: list[str], flag: str) -> str | None:
    """What `flag VALUE` or `flag=VALUE` in a vLLM argv gives; the last one wins, as argparse reads it."""
    value = None
    for i, word in enumerate(command):
        if word == flag and i + 1 < len(command):
            value = command[i + 1]
        elif word.startswith(flag + "="):
            value = word.split("=", 1)[1]
    return value


def served_endpoint(command: list[str]) -> tuple[str, str]:
    """(base URL to reach it from this machine, model name) of the server that a `build_vllm_command` argv starts,
    extra arguments included (they may change all three); a wildcard host (0.0.0.0, ::) is reached on loopback."""
    host, port, model = (str(option_value(command, flag)) for flag in ("--host", "--port", "--served-model-name"))
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1", model


# `RuntimeError: why`, at the start of a line or after vLLM's `(Worker pid=N) ERROR date [file:line] ` prefix.
_EXCEPTION_LINE = re.compile(r"(?:^|\] |\) )([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")
# Wrappers that vLLM's engine and front-end raise around a worker's failure; the cause is the line to report.
_NOT_THE_CAUSE = ("root cause", "EngineDeadError", "EngineCore encountered", "Worker failed with error")


def check_generates(base_url: str, model: str) -> None:
    """EngineError unless vLLM generates one token for a text prompt. Its CPU backend starts and lists its model
    even for a checkpoint whose first forward pass fails (an unsupported head size): find that out at start."""
    import http.client

    from docvl.infer.http_client import OpenAIEngine
    from docvl.infer.types import EngineUnavailableError

    probe = OpenAIEngine(base_url, model=model, timeout_s=600.0, concurrency=1, connect_retries=2)
    payload = {"model": model, "messages": [{"role": "user", "content": "OK"}], "max_tokens": 1, "temperature": 0}
    try:
        status, body = probe.post_json("/chat/completions", payload)
    except (OSError, http.client.HTTPException, EngineUnavailableError) as exc:
        status, body = 0, str(exc).encode()
    finally:
        probe.close()
    if status != 200:
        raise EngineError(f"vLLM failed its first request (HTTP {status}): {body[:200].decode('utf-8', 'replace')}")


_ENVIRONMENT_ERRORS = ("ImportError", "ModuleNotFoundError", "PackageNotFoundError")


def failure_reason(log_text: str) -> str | None:
    """vLLM's own reason for stopping: the last exception line of its log that is not a wrapper of another."""
    reasons = [
        match.group(1).rsplit(".", 1)[-1] + ": " + match.group(2).strip()
        for line in log_text.splitlines()
        if (match := _EXCEPTION_LINE.search(line.strip())) and not any(n in line for n in _NOT_THE_CAUSE)
    ]
    return reasons[-1][:300] if reasons else None


def vllm_failure(log_path: Path, checkpoint: str | Path, fallback: str) -> DocvlError:
    """The error for a vLLM that stopped: a broken environment (exit 2, how to set it up) or a checkpoint it cannot
    serve (exit 1, vLLM's reason); `fallback` (the supervisor's own message) when its log names no reason."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    reason = failure_reason(text)
    if reason is None:
        return VllmCannotServeError(fallback)
    if reason.startswith(_ENVIRONMENT_ERRORS) or "torchvision::nms" in reason:
        return VllmMissingError(f"vLLM's environment is broken: {reason} (log: {log_path})", hint=SETUP_HINT)
    return VllmCannotServeError(f"vLLM cannot serve {checkpoint}: {reason} (log: {log_path})")
