"""Real vLLM (the CPU build in .venv-vllm that scripts/setup_vllm.sh makes): `docvl serve --backend vllm`, convert
through it, `eval --parity` against transformers (Qwen2.5-VL, Qwen3-VL, a LoRA-merged export) and a restart after
its engine process is killed mid-run. Each vLLM start costs about a minute of CPU, so the tests share starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from docvl.config import load_config, save_config
from docvl.infer.vllm_cmd import project_vllm
from docvl.system import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        project_vllm() is None, reason="no .venv-vllm (set it up with `bash scripts/setup_vllm.sh`) to run real vLLM"
    ),
]

STARTUP_S = 900


def _settings(fixtures_dir: Path) -> list[str]:
    """Small pages and replies (one vLLM start is the cost that matters); held-out set: the fixture pairs."""
    return [
        "data.target_longest_image_dim=448",
        "data.rotation_augmentation_p=0.0",
        f"data.eval=[{{name: held, path: '{fixtures_dir / 'pairs'}'}}]",
        "eval.max_new_tokens=48",
        "convert.max_new_tokens=48",
        "convert.max_page_errors=100",
        "serve.max_num_seqs=8",
    ]


def docvl_checkpoint(family: str, directory: Path, fixtures_dir: Path) -> Path:
    """A tiny random checkpoint with text heads of 64 (vLLM's CPU attention has no 16), written as training
    writes one: the processor with the config's image size, and docvl.yaml."""
    from docvl.models.registry import load_processor
    from docvl.models.tiny import build_tiny

    config = load_config(None, [f"model.name_or_path={directory}", *_settings(fixtures_dir)])
    build_tiny(family, directory, size="reader")
    load_processor(directory, config.model).save_pretrained(directory)
    save_config(config, directory)
    return directory


def docvl(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docvl.cli", *args], capture_output=True, text=True, timeout=timeout, env=os.environ
    )


def wait_for_models(url: str, process: subprocess.Popen[bytes], log: Path) -> float:
    """Seconds until `url`/models answers; fails with the log's tail when the server exits first."""
    start = time.monotonic()
    while time.monotonic() - start < STARTUP_S:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(1.0)
    raise AssertionError(f"vLLM did not answer in {STARTUP_S} s: {log.read_text(errors='replace')[-3000:]}")


def parity_of(run: subprocess.CompletedProcess[str]) -> dict:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout)["parity"]


def assert_parity(parity: dict, pages: int) -> None:
    """Every image-token count and prompt as training's; at least 95% identical text (the documented tolerance)."""
    assert parity["pages"] == pages and parity["errors"] == 0
    assert parity["image_tokens_match"] == pages and parity["prompt_match"] == pages
    assert parity["identical"] >= 0.95 * pages and parity["ok"], parity["differences"]


def test_serve_convert_and_parity_qwen2_5_vl(tmp_path: Path, fixtures_dir: Path) -> None:
    ckpt = docvl_checkpoint("qwen2_5_vl", tmp_path / "ckpt", fixtures_dir)
    url, log = f"http://127.0.0.1:{free_port()}/v1", tmp_path / "serve.log"
    port = url.rsplit(":", 1)[1].split("/")[0]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "docvl.cli", "serve", str(ckpt), "--backend", "vllm", "--port", port],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        print(f"vLLM start-up: {wait_for_models(url, server, log):.0f} s")
        pdfs = sorted(str(p) for p in (fixtures_dir / "pairs").glob("*.pdf"))
        out = tmp_path / "md"
        run = docvl("convert", *pdfs, "--out", str(out), "--server", url, "--json", *_set(_settings(fixtures_dir)))
        assert run.returncode == 0, run.stderr[-3000:]
        records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        pages = [page for record in records for page in record["pages"]]
        assert len(pages) == len(pdfs)
        for page in pages:  # vLLM answered each attempt (a random model's replies fall back, but are replies)
            assert page["completion_tokens"] > 0 and not any(r and r.startswith("HTTP") for r in page["reasons"])
        parity = parity_of(docvl("eval", str(ckpt), "--parity", "--server", url, "--json"))
        assert_parity(parity, len(pdfs))
        print(f"qwen2_5_vl parity: {_figures(parity)}")
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(120) is not None


def test_serve_checkpoint_vllm_cannot_serve_is_one_line_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vLLM's CPU build starts and lists a head-size-16 model, then fails its first forward pass: `docvl serve`
    finds out before it says it serves, stops vLLM and exits 1 with vLLM's reason (about 50 s)."""
    import psutil

    from docvl.models.tiny import build_tiny

    ckpt = build_tiny("qwen2_5_vl", tmp_path / "head16")  # the default size: text heads of 16
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where docvl serve keeps vLLM's log
    run = docvl("serve", str(ckpt), "--backend", "vllm", "--port", "0", timeout=300)
    lines = run.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert run.returncode == 1 and errors == lines[-1:], run.stderr[-3000:]
    reason = "RuntimeError: Unsupported CPU attention configuration: head_dim=16"
    assert errors[0].startswith(f"error: vLLM cannot serve {ckpt}: {reason}") and str(tmp_path) in errors[0]
    assert not any(line.startswith("serving ") for line in lines)
    left = [p.pid for p in psutil.process_iter(["cmdline"]) if str(ckpt) in " ".join(p.info["cmdline"] or [])]
    assert not left, f"vLLM processes left running: {left}"


def _figures(parity: dict) -> str:
    return json.dumps({key: value for key, value in parity.items() if key != "differences"})


def _set(settings: list[str]) -> list[str]:
    return [arg for setting in settings for arg in ("--set", setting)]


def _kill_engine_core(server_pid: int) -> int:
    """SIGKILL vLLM's engine process (a child of its API server); its pid."""
    import psutil

    children = psutil.Process(server_pid).children(recursive=True)
    engine = next((c for c in children if "EngineCore" in " ".join([c.name(), *c.cmdline()])), children[0])
    engine.kill()
    return engine.pid


def test_engine_killed_mid_convert_restarts_and_loses_no_page_qwen3_vl(tmp_path: Path, fixtures_dir: Path) -> None:
    from docvl.infer.convert import convert
    from docvl.infer.factory import open_engine
    from docvl.runconfig import resolve_run_config

    ckpt = docvl_checkpoint("qwen3_vl", tmp_path / "ckpt", fixtures_dir)
    config = resolve_run_config(ckpt, None, ["serve.backend=vllm", "serve.max_restarts=1", "convert.concurrency=2"])
    pdfs = [str(p) for p in sorted((fixtures_dir / "pdfs").glob("*.pdf"))[:6]]
    killed: list[int] = []

    def on_page(pages: int, fallbacks: int) -> None:
        if not killed:
            killed.append(_kill_engine_core(engine.server.process.pid))

    engine = open_engine(config, model=str(ckpt), log_dir=tmp_path / "logs")
    try:
        summary = convert(pdfs, tmp_path / "md", engine, config, pages="1", on_page=on_page)
        assert killed and engine.restarts_left == 0, "the engine was killed and vLLM started again"
        records = [json.loads(line) for line in (tmp_path / "md" / "results.jsonl").read_text().splitlines()]
        assert summary.pages == len(pdfs) == sum(len(r["pages"]) for r in records)
        assert all(page["completion_tokens"] > 0 for r in records for page in r["pages"])
        parity = parity_of(docvl("eval", str(ckpt), "--parity", "--server", engine.base_url, "--json"))
        assert_parity(parity, 3)
        print(f"qwen3_vl parity after a restart: {_figures(parity)}")
    finally:
        engine.close()


def test_lora_adapter_in_transformers_equals_merged_export_in_vllm(tmp_path: Path, fixtures_dir: Path) -> None:
    from docvl.train.checkpoint import ADAPTER_DIR
    from docvl.train.run import train

    base = docvl_checkpoint("qwen2_5_vl", tmp_path / "base", fixtures_dir)
    config = load_config(
        None,
        [
            f"model.name_or_path={base}",
            "model.lora={r: 4, alpha: 8}",
            f"data.train=[{{name: pages, path: '{fixtures_dir / 'pairs'}'}}]",
            *_settings(fixtures_dir),
            f"train.output_dir={tmp_path / 'run'}",
            "train.use_cpu=true",
            "train.report_to=[]",
            "train.max_steps=3",
            "train.learning_rate=2e-3",
            "train.save_strategy='no'",
            "train.eval_strategy='no'",
        ],
    )
    final = train(config).final_dir
    assert (final / ADAPTER_DIR / "adapter_config.json").is_file()
    parity = parity_of(docvl("eval", str(final), "--parity", "--json"))  # vLLM started on the merged weights
    assert_parity(parity, 3)
    print(f"LoRA adapter (transformers) vs merged (vLLM) parity: {_figures(parity)}")
