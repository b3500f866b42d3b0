"""The `vllm serve` argument list is exactly what checkpoint + config imply (vLLM cannot run here)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from docvl.config import load_config, save_config
from docvl.errors import ConfigError
from docvl.infer.engines import EngineError, VllmEngine, run_config
from docvl.infer.vllm_cmd import build_vllm_command

SERVE = [
    "serve.tensor_parallel_size=2",
    "serve.data_parallel_size=4",
    "serve.gpu_memory_utilization=0.85",
    "serve.max_num_seqs=128",
    "model.torch_dtype=bfloat16",
]


@pytest.mark.parametrize(
    ("family", "max_len"),
    # 1288 px pages are capped at max_pixels 1646400: 2100 tokens of 28x28 (Qwen2.5) or 1608 of 32x32 (Qwen3),
    # + 512 for the prompt + 8000 new tokens, rounded up to 1024.
    [("qwen2_5_vl", "11264"), ("qwen3_vl", "10240")],
)
def test_exact_vllm_command(family: str, max_len: str, tiny_checkpoints: dict[str, Path]) -> None:
    ckpt = tiny_checkpoints[family]
    command = build_vllm_command(ckpt, load_config(None, SERVE), port=8123, extra_args=["--enforce-eager"])
    assert command == [
        "vllm", "serve", str(ckpt),
        "--served-model-name", ckpt.name,
        "--host", "127.0.0.1",
        "--port", "8123",
        "--limit-mm-per-prompt", '{"image": 1, "video": 0}',
        "--max-model-len", max_len,
        "--gpu-memory-utilization", "0.85",
        "--tensor-parallel-size", "2",
        "--data-parallel-size", "4",
        "--max-num-seqs", "128",
        "--dtype", "bfloat16",
        "--enforce-eager",
    ]  # fmt: skip


def test_checkpoint_config_and_chat_template(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoint-7"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], ckpt)
    save_config(load_config(None, ["convert.max_new_tokens=1000", "serve.served_model_name=ocr"]), ckpt)
    other = tmp_path / "runtime.yaml"
    other.write_text("data:\n  target_longest_image_dim: 500\nserve:\n  max_num_seqs: 8\n")
    config = run_config(ckpt, other, [])
    assert config.data.target_longest_image_dim == 1288  # a checkpoint's rendering is never overridden by a file
    command = build_vllm_command(ckpt, config)
    assert command[command.index("--served-model-name") + 1] == "ocr"
    assert command[command.index("--max-model-len") + 1] == "4096"  # 2100 + 512 + 1000
    assert command[command.index("--max-num-seqs") + 1] == "8"
    (ckpt / "chat_template.jinja").unlink()
    with pytest.raises(ConfigError, match="no chat template"):
        build_vllm_command(ckpt, config)
    config.serve.chat_template = "/templates/qwen.jinja"
    assert build_vllm_command(ckpt, config)[-2:] == ["--chat-template", "/templates/qwen.jinja"]


def test_vllm_that_fails_to_start_shows_its_log(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    fake_vllm = f"{sys.executable} -c 'import sys; print(\"CUDA out of memory\"); sys.exit(3)'"
    config = load_config(None, [f"serve.vllm_executable={fake_vllm}", "serve.startup_timeout_s=20"])
    with pytest.raises(EngineError, match="exited with code 3(.|\n)*CUDA out of memory"):
        VllmEngine(tiny_checkpoints["qwen2_5_vl"], config, port=1, log_path=tmp_path / "vllm.log")


def test_auto_backend_is_transformers_without_a_gpu() -> None:
    from docvl.config import ServeConfig
    from docvl.infer.engines import resolve_backend

    assert resolve_backend(ServeConfig()) == "transformers"  # no CUDA device on this machine kind
    assert resolve_backend(ServeConfig(backend="vllm")) == "vllm"
