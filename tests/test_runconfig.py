"""One rule for a run's config (`docvl.runconfig`), a checkpoint that cannot choose programs or addresses, and
every path to a served model sending what the checkpoint was trained with (recorded on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cli_invoke import invoke
from recording_server import RecordingServer

from docvl.config import load_config, save_config
from docvl.infer.server_config import config_for_server, config_payload, fetch_served_config
from docvl.prompts import build_prompt
from docvl.runconfig import resolve_run_config

RECORDER = Path(__file__).resolve().parent / "recording_server.py"
# Non-default rendering, message order and token limits: defaults sent by mistake cannot pass for these.
TRAINED = [
    "data.target_longest_image_dim=200",
    "data.image_first=false",
    "convert.max_new_tokens=16",
    "eval.max_new_tokens=16",
    "convert.temperatures=[0.0]",
    "convert.render_workers=1",
]
HOSTILE = {"vllm_executable": "sh -c 'touch pwned' x", "host": "0.0.0.0", "backend": "vllm", "port": 9}


@pytest.fixture
def ckpt(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> Path:
    path = tmp_path / "checkpoint-3"
    shutil.copytree(tiny_checkpoints["qwen2_5_vl"], path)
    save_config(load_config(None, TRAINED), path)
    return path


@pytest.fixture
def hostile_ckpt(ckpt: Path) -> Path:
    data = load_config(ckpt / "docvl.yaml").model_dump(mode="json")
    data["serve"].update(HOSTILE)
    (ckpt / "docvl.yaml").write_text(json.dumps(data))
    return ckpt


@pytest.fixture
def heldout(fixtures_dir: Path, tmp_path: Path) -> Path:
    pages = tmp_path / "pages"
    (pages / "eval").mkdir(parents=True)
    for suffix in (".pdf", ".md"):
        shutil.copy(fixtures_dir / "pairs" / f"edgar{suffix}", pages / "eval" / f"edgar{suffix}")
    return pages


def test_config_file_sets_only_runtime_sections_over_a_checkpoint(ckpt: Path, tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.yaml"
    runtime.write_text("data: {target_longest_image_dim: 999}\nconvert: {concurrency: 3}\neval: {worst_pages: 2}\n")
    config = resolve_run_config(ckpt, runtime, ["prompt.name=docvl-v1", "serve.max_num_seqs=4"])
    assert config.data.target_longest_image_dim == 200  # the checkpoint's rendering wins over a file
    assert (config.convert.concurrency, config.eval.worst_pages) == (3, 2)  # runtime sections from the file
    assert config.convert.max_new_tokens == 16 and config.serve.max_num_seqs == 4
    without_ckpt = resolve_run_config(None, runtime, ["data.image_first=false"])
    assert without_ckpt.data.target_longest_image_dim == 999 and without_ckpt.data.image_first is False


def test_checkpoint_never_chooses_program_or_address(hostile_ckpt: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    config = resolve_run_config(hostile_ckpt, None, [], warn=warnings.append)
    assert (config.serve.vllm_executable, config.serve.host, config.serve.backend, config.serve.port) == (
        "vllm", "127.0.0.1", "auto", 8000,
    )  # fmt: skip
    assert len(warnings) == 1 and "serve.vllm_executable" in warnings[0] and "serve.host='0.0.0.0'" in warnings[0]
    assert config.data.target_longest_image_dim == 200  # what the model needs is still taken
    # the user's own file and command line do choose them
    mine = tmp_path / "mine.yaml"
    mine.write_text("serve: {vllm_executable: /opt/vllm/bin/vllm}\n")
    config = resolve_run_config(hostile_ckpt, mine, ["serve.host=0.0.0.0"], warn=warnings.append)
    assert (config.serve.vllm_executable, config.serve.host) == ("/opt/vllm/bin/vllm", "0.0.0.0")


def test_hostile_checkpoint_runs_nothing_through_the_commands(
    hostile_ckpt: Path, heldout: Path, fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docvl.infer import vllm_cmd

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(vllm_cmd, "project_vllm", lambda: None)  # `vllm` on PATH even where .venv-vllm is set up
    code, stdout, stderr = invoke("serve", str(hostile_ckpt), "--dry-run")
    assert code == 0, stderr
    assert stdout.startswith("vllm serve ") and "--host 127.0.0.1 --port 8000" in stdout and "0.0.0.0" not in stdout
    assert "ignored serve.vllm_executable" in stderr
    pdf = str(fixtures_dir / "pairs" / "edgar.pdf")
    code, _, stderr = invoke("convert", pdf, "--model", str(hostile_ckpt), "--out", str(tmp_path / "md"), "--json")
    assert code in (0, 1), stderr  # random weights: a text-layer fallback page, but it ran here, in-process
    assert "ignored serve.vllm_executable" in stderr
    code, _, stderr = invoke("eval", str(hostile_ckpt), "--sets", f"h={heldout}", "--json")
    assert code == 0, stderr
    assert not list(tmp_path.rglob("pwned"))


def test_hostile_checkpoint_served_on_loopback_by_our_server(hostile_ckpt: Path) -> None:
    """`docvl serve CKPT` (no --backend): the checkpoint's `backend: vllm` and `host: 0.0.0.0` are ignored, so our
    server listens on 127.0.0.1 (port 0: any free one), and its config route reports the checkpoint's config."""
    process = subprocess.Popen([sys.executable, "-m", "docvl", "serve", str(hostile_ckpt), "--port", "0"],
                               stderr=subprocess.PIPE, text=True, env=os.environ.copy())  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("serving ") for line in lines) and process.poll() is None:
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        url = next(line.split(" at ")[1].split()[0] for line in lines if line.startswith("serving "))
        assert url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(f"{url}/docvl/config", timeout=10) as response:
            answer = json.load(response)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert any("ignored serve.vllm_executable" in line for line in lines)
    assert answer["checkpoint"] == str(hostile_ckpt.resolve())
    assert answer["config"]["data"]["target_longest_image_dim"] == 200
    assert answer["config"]["serve"]["vllm_executable"] == "vllm" and answer["config"]["serve"]["host"] == "127.0.0.1"


def test_served_config_is_asked_of_the_server(ckpt: Path, tmp_path: Path) -> None:
    config = load_config(ckpt / "docvl.yaml")
    with RecordingServer("ocr", config_payload(ckpt, config)) as ours:
        served = fetch_served_config(ours.base_url)
        assert served.checkpoint == str(ckpt.resolve()) and served.config == config.model_dump(mode="json")
    public = config.model_copy(update={"serve": config.serve.model_copy(update={"host": "0.0.0.0"})})
    quiet: list[str] = []
    with RecordingServer("ocr", config_payload(tmp_path / "elsewhere", public)) as exposed:
        seen = config_for_server(exposed.base_url, model=None, config_file=None, overrides=[], warn=quiet.append)
    # the server's own bind address is not the client's business: dropped, and no warning about it
    assert (seen.serve.host, seen.data.target_longest_image_dim, quiet) == ("127.0.0.1", 200, [])
    with RecordingServer(str(ckpt)) as vllm_like:  # vLLM names the model by the path it serves
        assert fetch_served_config(vllm_like.base_url).checkpoint == str(ckpt)
    warnings: list[str] = []
    with RecordingServer("some/hub-model") as unknown:
        defaults = config_for_server(unknown.base_url, model=None, config_file=None, overrides=[], warn=warnings.append)
    assert defaults.data.target_longest_image_dim == 1288
    assert len(warnings) == 1 and "reports no checkpoint config" in warnings[0]


def test_every_path_to_a_served_model_sends_what_the_checkpoint_was_trained_with(
    ckpt: Path, heldout: Path, fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """convert --server (our server; a vLLM-like one), convert --server --model, convert --model (vLLM child),
    eval --server: the same image size, part order, prompt and token limit, all the checkpoint's."""
    pdf = str(fixtures_dir / "pairs" / "edgar.pdf")
    config = load_config(ckpt / "docvl.yaml")
    recorded: dict[str, list[dict]] = {}

    def convert(name: str, *args: str) -> None:
        code, _, stderr = invoke("convert", pdf, "--out", str(tmp_path / name), *args)
        assert code == 0, stderr

    with RecordingServer("ocr", config_payload(ckpt, config)) as ours:
        convert("ours", "--server", ours.base_url)
        code, _, stderr = invoke("eval", "--server", ours.base_url, "--sets", f"h={heldout}", "--json")
        assert code == 0, stderr
        recorded["convert --server (docvl serve)"] = ours.requests[:1]
        recorded["eval --server (docvl serve)"] = ours.requests[1:]
    with RecordingServer(str(ckpt)) as vllm_like:
        convert("vllm", "--server", vllm_like.base_url)
        recorded["convert --server (vLLM)"] = vllm_like.requests
    with RecordingServer("anything") as other:
        convert("model", "--server", other.base_url, "--model", str(ckpt))
        recorded["convert --server --model"] = other.requests
        assert other.models == ["anything"]  # the checkpoint gave the config; the server's name is asked for
    record_to = tmp_path / "child.jsonl"
    monkeypatch.setenv("RECORD_TO", str(record_to))
    convert("child", "--model", str(ckpt), "--set", "serve.backend=vllm",
            "--set", f"serve.vllm_executable={sys.executable} {RECORDER}")  # fmt: skip
    recorded["convert --model (vLLM child)"] = [json.loads(line) for line in record_to.read_text().splitlines()]

    width, height = next(r[0]["image_size"] for r in recorded.values())
    assert max(width, height) == 200
    expected = {"image_size": [width, height], "order": ["text", "image_url"], "prompt": build_prompt()}
    expected["max_tokens"] = 16
    assert recorded == {name: [expected] for name in recorded}
