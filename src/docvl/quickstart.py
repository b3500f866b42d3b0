"""`docvl quickstart`: the whole loop on the bundled samples and a tiny model, on CPU, in a few minutes.

Each stage is the real `docvl` command run as a child process (the same code path a user runs by hand):
prepare -> validate -> train -> eval -> serve (transformers backend, a free local port) -> convert -> stop.
Outputs stay in `--workdir`; a re-run reuses what is there (prepare and convert resume; a finished
training is not repeated).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docvl.errors import DocvlError
from docvl.system import free_port

BUNDLED = Path(__file__).resolve().parent / "_bundled"  # package data: ships in the wheel
SERVER_START_TIMEOUT_S = 180.0


@dataclass
class StageResult:
    name: str
    command: list[str]
    seconds: float
    summary: str
    reused: bool = False
    data: dict[str, Any] = field(default_factory=dict)


class StageFailed(DocvlError):
    """A quickstart stage exited with an error; the message carries the tail of its output."""


def examples_dir() -> Path:
    """The sample data shipped inside the package (`pairs/`, `pdfs/`; a checkout's examples/ links to them)."""
    candidate = BUNDLED / "examples"
    if not (candidate / "pairs").is_dir():
        raise DocvlError("the bundled sample data is missing from the installed package", candidate, "reinstall docvl")
    return candidate


def tiny_config() -> Path:
    """The tiny CPU training config shipped inside the package (a checkout's configs/tiny-cpu.yaml links to it)."""
    return BUNDLED / "tiny-cpu.yaml"


def learn_config() -> Path:
    """The tiny recipe that learns to read synthetic pages on CPU (its `synthetic` section makes the pages)."""
    return BUNDLED / "tiny-learn.yaml"


@dataclass(frozen=True)
class SyntheticRun:
    """The quickstart's stages on synthetic pages: one page set whose held-out split the model never trains on,
    its generated unit tests (`pages/bench`), and the learnable tiny recipe. Arguments only; `_run` runs them."""

    workdir: Path

    @property
    def pages(self) -> Path:
        return self.workdir / "pages"

    @property
    def bench(self) -> Path:
        return self.pages / "bench"

    def prepare_args(self) -> list[str]:
        return [
            "prepare",
            "--kind",
            "synthetic",
            "--config",
            str(learn_config()),
            "--out",
            str(self.pages),
            "--eval-fraction",
            "0.1",
            "--json",
        ]

    def train_args(self, train_dir: Path, steps: int | None = None) -> list[str]:
        overrides = [
            f"data.train=[{{name: synthetic, path: '{self.pages}'}}]",
            f"data.eval=[{{name: heldout, path: '{self.pages}'}}]",
            f"train.output_dir={train_dir}",
        ]
        if steps:
            overrides += [f"train.max_steps={steps}", f"train.save_steps={steps}"]
        return ["train", str(learn_config()), *overrides]

    def eval_args(self, checkpoint: Path) -> list[str]:
        return ["eval", str(checkpoint), "--sets", f"heldout={self.pages}", "--bench", str(self.bench), "--json"]

    def convert_inputs(self) -> list[str]:
        """Held-out synthetic PDFs: pages the model never saw in training."""
        return sorted(str(path) for path in (self.pages / "eval").glob("*.pdf"))


def _docvl(*args: str) -> list[str]:
    return [sys.executable, "-m", "docvl", *args]


def _run(
    name: str, command: list[str], summarize: Callable[[dict[str, Any]], str], show_stderr: bool = False
) -> StageResult:
    """Run one stage with `--json`; its JSON result feeds the summary. Exit 1 (work found failures) is kept.
    With `show_stderr` the stage's progress (the Trainer's bar) goes on to our stderr as it comes."""
    started = time.perf_counter()
    env = {**os.environ, "NO_COLOR": "1"}
    if show_stderr:
        done = _run_showing_stderr(command, env)
    else:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise StageFailed(f"stage '{name}' failed (exit {done.returncode}): {tail}")
    try:
        data = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    except json.JSONDecodeError:
        data = {}
    return StageResult(name, command, seconds, summarize(data), data=data)


def _run_showing_stderr(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`subprocess.run` that passes stderr through while keeping its tail (for the one-line failure)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env)
        assert process.stderr is not None
        tail = b""
        for chunk in iter(lambda: process.stderr.read1(4096), b""):  # type: ignore[union-attr]
            sys.stderr.write(chunk.decode("utf-8", errors="replace"))
            sys.stderr.flush()
            tail = (tail + chunk)[-8192:]
        process.wait()
        stdout.seek(0)
        return subprocess.CompletedProcess(command, process.returncode, stdout.read(), tail.decode(errors="replace"))


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StageFailed(f"the server exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise StageFailed(f"the server did not answer {url}/health within {timeout:.0f} s")


def run_quickstart(
    workdir: Path, steps: int = 30, progress: Callable[[str], None] = lambda _: None, show_training: bool = True
) -> list[StageResult]:
    """Run every stage in order and return what each did (`show_training`: the Trainer's progress on stderr)."""
    examples = examples_dir()
    pages, train_dir, converted = workdir / "pages", workdir / "train", workdir / "converted"
    results: list[StageResult] = []

    progress("prepare")
    results.append(
        _run(
            "prepare",
            _docvl("prepare", str(examples / "pairs"), "--out", str(pages), "--eval-fraction", "0.25", "--json"),
            lambda d: f"{d['train']} train + {d['eval']} held-out pages ({d['skipped_docs']} documents reused)",
        )
    )
    progress("validate")
    results.append(
        _run(
            "validate",
            _docvl("validate", str(pages), "--json"),
            lambda d: f"{d['passed']} of {d['checked']} pairs pass every check",
        )
    )

    checkpoint, final = train_dir / f"checkpoint-{steps}", train_dir / "final"
    progress("train")
    if (final / "docvl.yaml").is_file() and (checkpoint / "trainer_state.json").is_file():
        results.append(StageResult("train", [], 0.0, f"reused {checkpoint} ({_loss_change(checkpoint)})", True))
    else:
        overrides = [
            f"data.train=[{{name: quickstart, path: '{pages}'}}]",
            f"data.eval=[{{name: heldout, path: '{pages}'}}]",
            f"train.output_dir={train_dir}",
            f"train.max_steps={steps}",
            f"train.save_steps={steps}",
            f"train.eval_steps={steps}",
        ]
        command = _docvl("train", str(tiny_config()), *overrides, "--resume", "auto")  # an interrupted run goes on
        trained = _run("train", command, lambda d: "", show_stderr=show_training)
        trained.summary = f"{steps} steps, {_loss_change(checkpoint)}; checkpoint {checkpoint}"
        results.append(trained)

    progress("eval")
    results.append(_run("eval", _docvl("eval", str(checkpoint), "--sets", f"heldout={pages}", "--json"), _eval_summary))

    progress("serve")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        _docvl("serve", str(final), "--backend", "transformers", "--port", str(port), "--host", "127.0.0.1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        _wait_healthy(url, server, SERVER_START_TIMEOUT_S)
        results.append(StageResult("serve", [], time.perf_counter() - started, f"transformers backend at {url}/v1"))
        progress("convert")
        pdfs = [str(examples / "pdfs" / name) for name in ("some_ocr1.pdf", "small_page_size.pdf")]
        results.append(
            _run(
                "convert",
                _docvl(
                    "convert",
                    *pdfs,
                    "--server",
                    f"{url}/v1",  # the server tells which config its checkpoint was trained with
                    "--out",
                    str(converted),
                    "--json",
                ),
                lambda d: (
                    f"{d['documents']} documents, {d['pages']} pages ({d['fallback_pages']} from the text "
                    f"layer, {d['skipped']} reused) into {converted}; {_failed_documents(converted)}"
                ),
            )
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    results.append(StageResult("stop", [], 0.0, f"server stopped (exit code {server.returncode})"))
    return results


def _failed_documents(converted: Path) -> str:
    """How many of the documents in `converted` failed (this run's and reused ones alike), and why that is
    expected of the tiny model."""
    from docvl.io import read_jsonl

    records = read_jsonl(converted / "results.jsonl")
    failed = sum(1 for record in records if record.get("status") == "failed")
    if not failed:
        return f"all {len(records)} documents done"
    return f"{failed} of {len(records)} documents failed (the tiny model cannot read; see results.jsonl)"


def _loss_change(checkpoint: Path) -> str:
    """First and last logged training loss, from the checkpoint's own trainer state."""
    try:
        history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    except (OSError, ValueError, KeyError):
        return "loss n/a"
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return f"loss {losses[0]:.2f} -> {losses[-1]:.2f}" if len(losses) >= 2 else "loss n/a"


def _eval_summary(data: dict[str, Any]) -> str:
    heldout = data.get("sets", {}).get("heldout", {})
    return (
        f"held-out: {heldout.get('pages', 0)} pages, loss {heldout.get('loss', float('nan')):.2f}, "
        f"edit distance {heldout.get('edit_distance_pooled', float('nan')):.2f}"
    )
