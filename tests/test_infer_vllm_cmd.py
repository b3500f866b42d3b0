"""The `vllm serve` argument list is exactly what checkpoint + config imply (vLLM cannot run here)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from docvl.config import load_config, save_config
from docvl.errors import ConfigError
from docvl.infer.types import EngineError
from docvl.infer.vllm_cmd import build_vllm_command, cpu_memory_utilization, kv_bytes_per_token
from docvl.infer.vllm_server import VllmEngine
from docvl.runconfig import resolve_run_config

SERVE = [
    "serve.vllm_executable=/opt/vllm/bin/vllm",
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
    command = build_vllm_command(ckpt, load_config(None, SERVE), port=8123, extra_args=["--enforce-eager"], cuda=True)
    assert command == [
        "/opt/vllm/bin/vllm", "serve", str(ckpt),
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
        "--chat-template-content-format", "openai",
        "--enforce-eager",
    ]  # fmt: skip


def test_cpu_command_sizes_memory_from_the_machine(tiny_checkpoints: dict[str, Path]) -> None:
    ckpt = tiny_checkpoints["qwen3_vl"]
    config = load_config(None, ["serve.max_num_seqs=4", "convert.max_new_tokens=1000"])
    command = build_vllm_command(ckpt, config, cuda=False)
    assert command[command.index("--dtype") + 1] == "float32" and command[-1] == "--enforce-eager"
    share = float(command[command.index("--gpu-memory-utilization") + 1])
    assert share == cpu_memory_utilization(ckpt, config, 4096, "float32") and 0 < share < 1
    gib = 1024**3
    # 2 layers x 2 KV heads x 16 x 2 (K and V) x 4 bytes = 512 B per token, x 4096 tokens x 4 sequences = 8 MiB
    assert kv_bytes_per_token(ckpt, "float32") == 512
    assert cpu_memory_utilization(ckpt, config, 4096, "float32", memory=(100 * gib, 90 * gib)) == 0.02
    assert cpu_memory_utilization(ckpt, config, 4096, "float32", memory=(8 * gib, 2 * gib)) == 0.12  # 1 GiB: half
    user_wins = build_vllm_command(ckpt, config, cuda=True, extra_args=["--dtype", "bfloat16"])
    assert user_wins[-2:] == ["--dtype", "bfloat16"]


def test_default_program_is_the_project_vllm_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from docvl.config import ServeConfig
    from docvl.infer import vllm_cmd

    monkeypatch.setattr(vllm_cmd, "project_vllm", lambda: tmp_path / ".venv-vllm" / "bin" / "vllm")
    assert vllm_cmd.vllm_program(ServeConfig()) == [str(tmp_path / ".venv-vllm" / "bin" / "vllm")]
    assert vllm_cmd.vllm_program(ServeConfig(vllm_executable="/x/vllm --flag")) == ["/x/vllm", "--flag"]
    monkeypatch.setattr(vllm_cmd, "project_vllm", lambda: None)
    assert vllm_cmd.vllm_program(ServeConfig()) == ["vllm"]
    with pytest.raises(vllm_cmd.VllmMissingError, match="not found.*scripts/setup_vllm.sh") as info:
        vllm_cmd.require_vllm([str(tmp_path / "nothing")])
    assert info.value.exit_code == 2


def test_checkpoint_config_and_chat_template(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoint-7"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], ckpt)
    save_config(load_config(None, ["convert.max_new_tokens=1000", "serve.served_model_name=ocr"]), ckpt)
    other = tmp_path / "runtime.yaml"
    other.write_text("data:\n  target_longest_image_dim: 500\nserve:\n  max_num_seqs: 8\n")
    config = resolve_run_config(ckpt, other, [])
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
    from docvl.infer.factory import resolve_backend

    assert resolve_backend(ServeConfig()) == "transformers"  # no CUDA device on this machine kind
    assert resolve_backend(ServeConfig(backend="vllm")) == "vllm"


# A stand-in for `vllm serve CKPT --host H --port P ...`: docvl's OpenAI-compatible ApiServer with a fixed valid
# reply, on the port docvl chose; it appends a line to STARTS on each start, answers K chat requests (the first is
# docvl's start-up probe), and dies (os._exit, no cleanup) on the next one, with that request in flight; or, given
# a LOG, prints it and answers HTTP 500 from then on, as vLLM's CPU build does when its first forward pass fails.
# SIGTERM ends it with exit code 5.
FAKE_VLLM = """#!{python}
import argparse, os, signal, sys, threading
from docvl.infer.fakes import VALID_REPLY
from docvl.infer.server import completion_body, error_body
from docvl.infer.server_basic import ApiServer

parser = argparse.ArgumentParser()
parser.add_argument("command")
parser.add_argument("checkpoint")
parser.add_argument("--host", required=True)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--served-model-name", required=True)
args, _ = parser.parse_known_args()
assert args.command == "serve" and os.path.isfile(os.path.join(args.checkpoint, "config.json"))
with open({starts!r}, "a") as starts:
    starts.write(f"{{os.getpid()}}\\n")
lock, answered = threading.Lock(), [0]

def chat(payload):
    with lock:
        if answered[0] >= {k} and {log!r}:
            print({log!r}, flush=True)
            return 500, error_body("EngineCore encountered an issue", "server_error")
        if answered[0] >= {k}:
            print("fake vllm: crashing", flush=True)
            os._exit(17)
        answered[0] += 1
    return 200, completion_body(args.served_model_name, VALID_REPLY, "stop", 100, 10)

signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(5))
print(f"fake vllm: serving {{args.served_model_name}} on {{args.host}}:{{args.port}}", flush=True)
ApiServer(args.host, args.port, args.served_model_name, chat).serve_forever()
"""
ONE_PAGE = ["ambiguous.pdf", "dolma-page-1.pdf", "edgar.pdf", "olmo-page-1.pdf", "small_page_size.pdf"]


def _fake_vllm(tmp_path: Path, k: int, log: str = "") -> tuple[Path, Path]:
    """The fake `vllm` program (answers `k` chat requests per life, then crashes or, given `log`, prints it and
    refuses) and the file it counts its starts in."""
    starts = tmp_path / "starts.txt"
    program = tmp_path / "vllm"
    program.write_text(FAKE_VLLM.format(python=sys.executable, starts=str(starts), k=k, log=log))
    program.chmod(0o755)
    return program, starts


def _crash_overrides(program: Path, max_restarts: int, concurrency: int) -> list[str]:
    return [
        "serve.backend=vllm",
        f"serve.vllm_executable={program}",
        "serve.startup_timeout_s=10",
        f"serve.max_restarts={max_restarts}",
        "data.target_longest_image_dim=224",
        "convert.temperatures=[0.0,0.1,0.2,0.3]",
        "convert.request_timeout_s=5",
        f"convert.concurrency={concurrency}",
        "convert.render_workers=1",
        "convert.connect_retries=0",  # a restart must not lean on the retries of refused connections
    ]


def test_vllm_that_dies_mid_run_is_restarted_and_no_document_is_lost(
    tiny_checkpoints: dict[str, Path], fixtures_dir: Path, tmp_path: Path
) -> None:
    from docvl.infer import convert, open_engine, read_results

    program, starts = _fake_vllm(tmp_path, k=4)  # the probe, then three pages
    config = load_config(None, _crash_overrides(program, max_restarts=5, concurrency=4))
    names = [*ONE_PAGE, "handwriting_bad_ocr.pdf", "skinnypage.pdf"]  # 9 pages; skinnypage's 2nd is never asked
    out = tmp_path / "out"
    engine = open_engine(config, model=tiny_checkpoints["qwen2_5_vl"], log_dir=tmp_path)
    assert isinstance(engine, VllmEngine)
    try:
        summary = convert([str(fixtures_dir / "pdfs" / n) for n in names], out, engine, config)
    finally:
        engine.close()
    pids = starts.read_text().split()
    # 8 pages asked, 3 answers per life after the probe: at least 3 lives, every death followed by a start
    assert len(pids) >= 3 and len(set(pids)) == len(pids)
    assert engine.restarts_left == 5 - (len(pids) - 1)
    records = read_results(out)
    assert sorted(records) == sorted(names) and summary.documents == len(names)
    for name, record in records.items():
        asked = record.pages[:1] if name == "skinnypage.pdf" else record.pages
        assert asked and all(not p.fallback and p.text == "# A page\n\nSome text." for p in asked), name
        assert (out / record.markdown).is_file()
    log = next(tmp_path.glob("vllm-*.log")).read_text()
    assert log.count("fake vllm: crashing") == len(pids) - 1


def test_vllm_dying_without_restarts_stops_with_one_line(
    tiny_checkpoints: dict[str, Path], fixtures_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from docvl.cli import app
    from docvl.infer import read_results

    program, starts = _fake_vllm(tmp_path, k=3)  # the probe, then two pages
    out = tmp_path / "out"
    sets = [x for o in _crash_overrides(program, max_restarts=0, concurrency=1) for x in ("--set", o)]
    args = ["convert", *[str(fixtures_dir / "pdfs" / n) for n in ONE_PAGE], "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--model", str(tiny_checkpoints["qwen2_5_vl"]), *sets])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: vLLM exited with code 17 and serve.max_restarts=0"), lines
    assert starts.read_text().count("\n") == 1  # never restarted
    records = read_results(out)  # the two documents answered before the crash are kept, whole
    assert sorted(records) == sorted(ONE_PAGE[:2])
    for record in records.values():
        assert record.status == "ok" and (out / record.markdown).read_text() == "# A page\n\nSome text."


# What vLLM 0.32's CPU build logs when its attention kernels refuse the model: the cause, then the wrappers.
HEAD_DIM_LOG = """\
(Worker pid=22101) ERROR 12-03 02:03:25 [multiproc_executor.py:1063] RuntimeError: Unsupported CPU attention \
configuration: head_dim=16 isa=2 kv_cache_idx=0
(EngineCore pid=21798) ERROR 12-03 02:03:25 [core.py:1512] EngineCore encountered a fatal error.
(EngineCore pid=21798) ERROR 12-03 02:03:25 [core.py:1512] RuntimeError: Worker failed with error 'Unsupported CPU \
attention configuration: head_dim=16 isa=2 kv_cache_idx=0', please check the stack trace above for the root cause
(APIServer pid=21145) ERROR 12-03 02:03:25 [async_llm.py:906] vllm.v1.engine.exceptions.EngineDeadError: EngineCore \
encountered an issue. See stack trace (above) for the root cause.
"""


@pytest.mark.parametrize(
    ("log", "code", "message"),
    [
        (HEAD_DIM_LOG, 1, "vLLM cannot serve .*: RuntimeError: Unsupported CPU attention configuration: head_dim=16"),
        (
            "Traceback (most recent call last):\nimportlib.metadata.PackageNotFoundError: No package metadata was "
            "found for vllm\n",
            2,
            "vLLM's environment is broken: PackageNotFoundError: .* scripts/setup_vllm.sh",
        ),
    ],
)
def test_vllm_that_stops_says_why_in_one_line(
    log: str, code: int, message: str, tiny_checkpoints: dict[str, Path], fixtures_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from docvl.cli import app

    (tmp_path / "log.txt").write_text(log)
    program = tmp_path / "vllm"  # prints the log and exits, as vLLM does when it gives up
    program.write_text(f"#!/bin/sh\ncat {tmp_path / 'log.txt'}\nexit 1\n")
    program.chmod(0o755)
    sets = ["--set", "serve.backend=vllm", "--set", f"serve.vllm_executable={program}"]
    args = ["convert", str(fixtures_dir / "pdfs" / "edgar.pdf"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--model", str(tiny_checkpoints["qwen2_5_vl"]), *sets])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code and len(lines) == 1 and re.search(message, lines[0]), result.stderr


def test_missing_vllm_says_how_to_set_it_up(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from docvl.cli import app

    sets = ["--set", f"serve.vllm_executable={tmp_path / 'no-vllm'}"]
    result = CliRunner().invoke(app, ["serve", str(tiny_checkpoints["qwen3_vl"]), "--backend", "vllm", *sets])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "bash scripts/setup_vllm.sh" in lines[0], result.stderr


def _serve_args(ckpt: Path, program: Path, port: int) -> list[str]:
    return [
        "serve", str(ckpt), "--backend", "vllm", "--port", str(port),
        "--set", f"serve.vllm_executable={program}", "--set", "serve.startup_timeout_s=20",
    ]  # fmt: skip


def test_serve_vllm_that_lists_its_model_but_cannot_generate_fails_with_its_reason(
    tiny_checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from typer.testing import CliRunner

    from docvl.cli import app
    from docvl.system import free_port

    program, starts = _fake_vllm(tmp_path, k=0, log=HEAD_DIM_LOG)  # refuses docvl's one-token probe
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where docvl serve keeps vLLM's log
    ckpt = tiny_checkpoints["qwen2_5_vl"]
    result = CliRunner().invoke(app, _serve_args(ckpt, program, free_port()))
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert result.exit_code == 1 and errors == lines[-1:], result.stderr
    assert re.fullmatch(
        rf"error: vLLM cannot serve {re.escape(str(ckpt))}: RuntimeError: Unsupported CPU attention configuration: "
        r"head_dim=16 isa=2 kv_cache_idx=0 \(log: (.+)\)",
        errors[0],
    ), errors
    log = Path(errors[0].rsplit("(log: ", 1)[1][:-1])
    assert log.parent.parent == tmp_path
    assert "fake vllm: serving" in log.read_text() and "fake vllm: serving" in result.stderr  # followed live
    assert "serving " + str(ckpt) + " at" not in result.stderr
    pid = int(starts.read_text())
    with pytest.raises(ProcessLookupError):  # stopped (and reaped) before docvl returned
        os.kill(pid, 0)


def test_serve_vllm_answers_then_passes_sigterm_on(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    import signal
    import subprocess

    from docvl.infer.http_client import OpenAIEngine
    from docvl.system import free_port

    program, starts = _fake_vllm(tmp_path, k=100)
    port = free_port()
    args = [*_serve_args(tiny_checkpoints["qwen3_vl"], program, port), "--", "--served-model-name", "reader"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where docvl serve keeps vLLM's log
    server = subprocess.Popen([sys.executable, "-m", "docvl.cli", *args], stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stderr is not None
        seen = [server.stderr.readline() for _ in range(2)]  # vLLM's own output, then ours once it generates
        assert seen[0].startswith("fake vllm: serving reader on 127.0.0.1"), seen
        url = f"http://127.0.0.1:{port}/v1"
        log = re.escape(str(tmp_path)) + r"/docvl-serve-\w+/vllm.log"
        assert re.fullmatch(rf"serving \S+ at {re.escape(url)} \(vLLM log: {log}; Ctrl-C stops\)\n", seen[1]), seen
        client = OpenAIEngine(url, model="reader", timeout_s=10.0, concurrency=1)
        try:
            status, _ = client.post_json("/chat/completions", {"model": "reader", "messages": []})
        finally:
            client.close()
        assert status == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 5  # the fake vLLM's exit code on SIGTERM
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert starts.read_text().count("\n") == 1
