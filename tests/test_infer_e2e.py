"""The whole path on 127.0.0.1: `docvl serve --backend transformers` (tiny model) + `docvl convert`;
a run killed half way and run again; an unreachable server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from docvl.config import load_config, save_config
from docvl.infer import read_results
from docvl.infer.fakes import Act, FakeOpenAIServer
from docvl.judge import Reason

DOCVL = [sys.executable, "-m", "docvl.cli"]


def _docvl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DOCVL, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


@pytest.fixture
def tiny_ckpt(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> Path:
    """A checkpoint folder as training writes it: weights, processor and a docvl.yaml for a fast test."""
    ckpt = tmp_path / "checkpoint-1"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], ckpt)
    overrides = [
        "data.target_longest_image_dim=224",
        "convert.temperatures=[0.0]",
        "convert.max_new_tokens=4",
        "convert.render_workers=1",
    ]
    save_config(load_config(None, overrides), ckpt)
    return ckpt


def _start_server(ckpt: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*DOCVL, "serve", str(ckpt), "--backend", "transformers", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        url = next((line.split(" at ")[1].split()[0] for line in lines if line.startswith("serving ")), None)
        if url:
            return process, url
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"docvl serve did not start: {''.join(lines)[-2000:]}")


def test_serve_and_convert_full_path(tiny_ckpt: Path, fixtures_dir: Path, tmp_path: Path) -> None:
    server, url = _start_server(tiny_ckpt)
    try:
        with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=5) as response:
            assert json.load(response) == {"status": "ok"}
        pdfs = [str(fixtures_dir / "pdfs" / name) for name in ("edgar.pdf", "small_page_size.pdf")]
        out = tmp_path / "out"
        result = _docvl("convert", *pdfs, "--out", str(out), "--server", url, "--config", str(tiny_ckpt / "docvl.yaml"),
                        "--json")  # fmt: skip
        summary = json.loads(result.stdout)
        # random weights never write valid front matter: every page is a marked text-layer fallback
        assert summary["documents"] == 2 and summary["pages"] == 2 and summary["fallback_pages"] == 2
        assert result.returncode == 1  # the documents are over their error budget (0)
        records = read_results(out)
        assert set(records) == {"edgar.pdf", "small_page_size.pdf"}
        for record in records.values():
            assert (out / record.markdown).is_file()
            page = record.pages[0]
            assert page.fallback and page.prompt_tokens > 50 and page.completion_tokens >= 1
            assert page.outcomes[0].reason in (Reason.LENGTH, Reason.UNPARSEABLE)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0  # a clean shutdown on SIGTERM


def test_killed_run_resumes_without_repeats(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    for i in range(8):
        (src / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures_dir / "pdfs" / "edgar.pdf", src / f"d{i % 2}" / f"doc{i}.pdf")
    out = tmp_path / "out"
    settings = ["--set", "data.target_longest_image_dim=224", "--set", "convert.concurrency=1",
                "--set", "convert.max_pages_in_flight=1", "--workers", "1"]  # fmt: skip
    with FakeOpenAIServer(lambda p, n: Act(delay_s=0.3)) as fake:
        first = subprocess.Popen([*DOCVL, "convert", str(src), "--out", str(out), "--server", fake.base_url, *settings])
        deadline = time.monotonic() + 60
        while len(read_results(out)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = len(read_results(out))
        assert 3 <= killed_at < 8
        second = _docvl("convert", str(src), "--out", str(out), "--server", fake.base_url, *settings, "--json")
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["skipped"] == killed_at and summary["documents"] == 8 - killed_at
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    paths = [record["path"] for record in lines]
    assert sorted(paths) == sorted(f"d{i % 2}/doc{i}.pdf" for i in range(8))  # none twice, none missing
    for record in lines:
        assert (out / record["markdown"]).read_text() == "# A page\n\nSome text."
    assert not [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix == ".tmp"]


def test_unreachable_server_one_line_exit_1(fixtures_dir: Path, tmp_path: Path) -> None:
    from docvl.system import free_port

    port = free_port()  # a port nobody listens on
    result = _docvl("convert", str(fixtures_dir / "pdfs" / "edgar.pdf"), "--out", str(tmp_path),
                    "--server", f"http://127.0.0.1:{port}/v1", "--set", "convert.connect_retries=1")  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach" in lines[0], result.stderr
