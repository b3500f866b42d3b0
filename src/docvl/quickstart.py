"""`docvl quickstart`: the whole loop on synthetic pages and the learnable tiny model, on CPU, in a few minutes.

Each stage is the real `docvl` command run as a child process (the same code path a user runs by hand):
prepare (synthetic pages with a held-out split and their unit tests) -> validate -> train (the tiny recipe
that learns, configs/tiny-learn.yaml) -> eval (held-out pages and their unit tests; the report stays in
`WORKDIR/eval.json`) -> serve (transformers backend, a free local port) -> convert (held-out PDFs the model
never trained on) -> stop. The summary shows one page as the model wrote it and says in one line whether it
reads. Outputs stay in `--workdir`; a re-run reuses what is there (prepare and convert resume; a finished
training and its eval report are not repeated).
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
CONVERT_DOCUMENTS = 8  # held-out PDFs converted through the server (eval already reads every held-out page)
# What "reads" means here: the targets of the synthetic quickstart pages (issue "A model that reads").
READS_EDIT_DISTANCE = 0.15
READS_TESTS_PASSED = 0.8
READS_OWN_PAGES = 0.9


@dataclass
class StageResult:
    name: str
    command: list[str]
    seconds: float
    summary: str
    reused: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplePage:
    """One converted held-out page: the model's own Markdown (or the fallback's) beside its gold."""

    pdf: str
    markdown: str
    gold: str
    from_model: bool


@dataclass
class QuickstartResult:
    stages: list[StageResult]
    verdict: str
    sample: SamplePage | None
    eval_report: Path


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

    @property
    def eval_report(self) -> Path:
        return self.workdir / "eval.json"

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
        return [
            "eval",
            str(checkpoint),
            "--sets",
            f"heldout={self.pages}",
            "--bench",
            str(self.bench),
            "--work-dir",
            str(self.workdir / "eval"),
            "--report",
            str(self.eval_report),
            "--json",
        ]

    def convert_inputs(self) -> list[str]:
        """Held-out synthetic PDFs: pages the model never saw in training."""
        return sorted(str(path) for path in (self.pages / "eval").glob("*.pdf"))


def recipe_steps() -> int:
    """The learnable recipe's own step count (the quickstart's default)."""
    from docvl.config import load_config

    return load_config(learn_config()).train.max_steps


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
    workdir: Path,
    steps: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
    show_training: bool = True,
) -> QuickstartResult:
    """Run every stage in order and say what each did (`steps`: training steps, default the recipe's own;
    `show_training`: the Trainer's progress on stderr)."""
    run = SyntheticRun(workdir)
    steps = steps or recipe_steps()
    train_dir, converted = workdir / "train", workdir / "converted"
    stages: list[StageResult] = []

    progress("prepare")
    stages.append(
        _run(
            "prepare",
            _docvl(*run.prepare_args()),
            lambda d: (
                f"{d['train']} train + {d['eval']} held-out synthetic pages, unit tests in {run.bench} "
                f"({d['skipped_docs']} pages reused)"
            ),
        )
    )
    progress("validate")
    stages.append(
        _run(
            "validate",
            _docvl("validate", str(run.pages), "--json"),
            lambda d: f"{d['passed']} of {d['checked']} pairs pass every check",
        )
    )

    checkpoint, final = train_dir / f"checkpoint-{steps}", train_dir / "final"
    progress("train")
    trained_before = (final / "docvl.yaml").is_file() and (checkpoint / "trainer_state.json").is_file()
    if trained_before:
        stages.append(StageResult("train", [], 0.0, f"reused {checkpoint} ({_loss_change(checkpoint)})", True))
    else:
        command = _docvl(*run.train_args(train_dir, steps), "--resume", "auto")  # an interrupted run goes on
        trained = _run("train", command, lambda d: "", show_stderr=show_training)
        trained.summary = f"{steps} steps of {learn_config().name}, {_loss_change(checkpoint)}; checkpoint {checkpoint}"
        stages.append(trained)

    progress("eval")
    report = _read_json(run.eval_report) if trained_before else {}
    if report.get("checkpoint") == str(checkpoint):  # this training's report, written when its eval finished
        stages.append(StageResult("eval", [], 0.0, f"reused {run.eval_report}: {_eval_summary(report)}", True, report))
    else:
        evaluated = _run("eval", _docvl(*run.eval_args(checkpoint)), _eval_summary)
        stages.append(evaluated)
        report = evaluated.data

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
        stages.append(StageResult("serve", [], time.perf_counter() - started, f"transformers backend at {url}/v1"))
        progress("convert")
        pdfs = run.convert_inputs()[:CONVERT_DOCUMENTS]
        command = _docvl("convert", *pdfs, "--server", f"{url}/v1", "--out", str(converted), "--json")
        stages.append(_run("convert", command, lambda d: _convert_summary(d, converted)))  # the server knows its config
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    stages.append(StageResult("stop", [], 0.0, f"server stopped (exit code {server.returncode})"))
    pages = _converted_pages(converted)
    return QuickstartResult(stages, verdict(report, pages), _sample_page(pages, run.pages), run.eval_report)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _converted_pages(converted: Path) -> list[dict[str, Any]]:
    """Every converted page (this run's and reused ones), with the PDF it came from, in file order."""
    from docvl.io import read_jsonl

    records = sorted(read_jsonl(converted / "results.jsonl"), key=lambda record: record["path"])
    return [{**page, "pdf": record["path"]} for record in records for page in record.get("pages", [])]


def verdict(report: dict[str, Any], pages: list[dict[str, Any]]) -> str:
    """One honest line: does the model read the held-out pages, by the eval report and the converted pages?
    Scores count the model's own replies only: a page that fell back to the text layer reads nothing."""
    own = [page for page in pages if not page.get("fallback")]
    if not own:
        return "the model does not read yet: every converted page fell back to the PDF's text layer"
    heldout = report.get("sets", {}).get("heldout", {})
    edit_distance = heldout.get("edit_distance_pooled", 1.0)
    passed = own_tests_passed(report)
    share = len(own) / len(pages)
    scores = (
        f"held-out edit distance {edit_distance:.2f} (target <= {READS_EDIT_DISTANCE}), "
        f"{'n/a' if passed is None else f'{passed:.0%}'} of unit tests pass on its own replies "
        f"(target >= {READS_TESTS_PASSED:.0%}), {len(own)} of {len(pages)} converted pages are its own "
        f"(target >= {READS_OWN_PAGES:.0%})"
    )
    reads = edit_distance <= READS_EDIT_DISTANCE and (passed or 0.0) >= READS_TESTS_PASSED
    if reads and share >= READS_OWN_PAGES:
        return f"the model reads these pages: {scores}"
    distinct = len({page.get("text", "") for page in own})
    return f"the model does not read yet ({distinct} different replies): {scores}"


def own_tests_passed(report: dict[str, Any]) -> float | None:
    """Share of the eval's unit tests passed by the model's own replies. `docvl eval` scores the Markdown a user
    would get, text-layer fallback included (and a synthetic page's text layer passes its tests), so a test of a
    page that fell back counts as failed here. None when the eval's convert results are gone."""
    bench = report.get("bench") or {}
    tests = bench.get("tests") or []
    fell_back = _fallback_bench_pdfs(bench.get("outputs"))
    if not tests or fell_back is None:
        return None if tests else 0.0
    return sum(1 for test in tests if test.get("pass") and test.get("pdf") not in fell_back) / len(tests)


def _fallback_bench_pdfs(outputs: str | None) -> set[str] | None:
    """The bench PDFs whose page came from the text layer, from the eval's convert results (`bench-runs/`,
    beside its bench outputs)."""
    from docvl.results import latest

    runs = Path(outputs).parent / "bench-runs" if outputs else None
    if runs is None or not runs.is_dir():
        return None
    return {
        Path(relpath).name
        for run in sorted(runs.iterdir())
        for relpath, record in latest(run).items()
        if any(page.fallback for page in record.pages)
    }


def _sample_page(pages: list[dict[str, Any]], pageset: Path) -> SamplePage | None:
    """The first converted page the model wrote itself whose gold has text (else the first page at all)."""
    from docvl.page import FrontMatter, Page, parse_page, serialize_page

    def gold(page: dict[str, Any]) -> str:
        path = pageset / "eval" / Path(page["pdf"]).with_suffix(".md").name
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def has_text(page: dict[str, Any]) -> bool:
        text = gold(page)
        return bool(text) and bool(parse_page(text, strict=False).text)

    own = [page for page in pages if not page.get("fallback") and has_text(page)]
    chosen = (own or pages or [None])[0]
    if chosen is None:
        return None
    markdown = serialize_page(Page(FrontMatter(**chosen.get("front_matter") or {}), chosen.get("text", "")))
    return SamplePage(chosen["pdf"], markdown, gold(chosen), not chosen.get("fallback"))


def _convert_summary(data: dict[str, Any], converted: Path) -> str:
    pages = _converted_pages(converted)
    fallback = sum(1 for page in pages if page.get("fallback"))
    return (
        f"{data['documents'] + data['skipped']} held-out PDFs ({data['skipped']} reused) into {converted}: "
        f"{len(pages) - fallback} of {len(pages)} pages from the model, {fallback} from the text layer; "
        f"{_failed_documents(converted)}"
    )


def _failed_documents(converted: Path) -> str:
    """How many of the documents in `converted` failed (this run's and reused ones alike)."""
    from docvl.io import read_jsonl

    records = read_jsonl(converted / "results.jsonl")
    failed = sum(1 for record in records if record.get("status") == "failed")
    if not failed:
        return f"all {len(records)} documents done"
    return f"{failed} of {len(records)} documents failed (see results.jsonl)"


def _loss_change(checkpoint: Path) -> str:
    """First and last logged training loss, from the checkpoint's own trainer state."""
    try:
        history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    except (OSError, ValueError, KeyError):
        return "loss n/a"
    losses = [entry["loss"] for entry in history if "loss" in entry]
    if not losses:
        return "loss n/a"
    return f"loss {losses[0]:.2f} -> {losses[-1]:.2f}" if len(losses) >= 2 else f"loss {losses[0]:.2f}"


def _eval_summary(data: dict[str, Any]) -> str:
    heldout = data.get("sets", {}).get("heldout", {})
    front_matter = heldout.get("front_matter") or {}
    tests = (data.get("bench") or {}).get("tests") or []
    fell_back = (heldout.get("rates") or {}).get("fallback") or 0.0
    fallback = f" ({fell_back:.0%} of held-out pages from the text layer, not the model)" if fell_back else ""
    shares = [share for share in front_matter.values() if share is not None]
    fields = f", front matter fields right on {min(shares):.0%}-{max(shares):.0%} of pages" if shares else ""
    own = own_tests_passed(data)
    own_share = "" if own is None else f" ({round(own * len(tests))} on the model's own replies)"
    return (
        f"held-out: {heldout.get('pages', 0)} pages, loss {heldout.get('loss', float('nan')):.2f}, "
        f"edit distance {heldout.get('edit_distance_pooled', float('nan')):.2f}{fields}; "
        f"unit tests {sum(1 for test in tests if test.get('pass'))} of {len(tests)} pass{own_share}{fallback}"
    )
