"""`docvl eval`: checkpoints on held-out page sets and on an olmOCR-bench directory, one report.

What is evaluated:

* `CHECKPOINT...`: each is a folder, or a name (`checkpoint-500`, `final`) inside the `--config`'s
  `train.output_dir`. Its own `docvl.yaml` supplies prompt, image size and output schema; `--config` adds only
  the runtime sections, `--set` overrides come last (`docvl.runconfig.resolve_run_config`).
* `--server URL`: generation goes to that OpenAI-compatible server (no loss then, without a checkpoint), with
  the config of the checkpoint it serves (`docvl.infer.server_config.config_for_server`); otherwise each
  checkpoint runs with `serve.backend` (vLLM, or transformers in this process).
* `--bench DIR --outputs A [--outputs B ...]`: score Markdown other tools wrote, each folder against the same
  tests (loaded once), side by side; no model, and nothing imported beyond the scoring core.
* `--parity`: instead of metrics, whether vLLM (started for the run, or `--server`) answers the held-out pages as
  the checkpoint does in transformers (`docvl.eval.parity`); exit 1 when it does not, within its tolerance.

Per checkpoint: the loss and generation metrics of every held-out set (`docvl.eval.heldout`: `--sets`, or
without `--sets` and `--bench` the config's `data.eval`), then the bench:
its pages generated `eval.bench_repeats` times through convert into `<work dir>/bench/<pdf stem>_pg<page>_
repeat<k>.md` (the text convert delivers, text-layer fallback included) and scored by `score_bench`.

Bad input is one problem line each, counted in the report, and the rest is evaluated: a checkpoint that does
not exist, a set that cannot be read, a bench line or test that cannot be used. Exit code (`exit_code`): 0
when every checkpoint was evaluated, 1 when some were not; nothing to evaluate at all is a UsageError.

JSON: one evaluated run gives `{"name", "checkpoint", "sets": {set: metrics}, "bench": {...}, "problems"}`;
several give `{"checkpoints": [run, ...], "best": {row: name}, "problems"}`. `bench` holds `overall`,
`ci_low`, `ci_high`, `per_file` and `tests` (`id`, `type`, `file`, `pass`, `explanation` per test).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.errors import DocvlError, UsageError
from docvl.scoring.bench import BenchReport, check_bench_dir, load_bench, score_bench, score_outputs

if TYPE_CHECKING:
    from docvl.config import DocvlConfig

Report = Callable[[str], None]
Progress = Callable[[str, int], Any]  # (description, total) -> context manager yielding on_page(pages, fallbacks)


@dataclass
class EvalOptions:
    """Everything `docvl eval` was asked besides the checkpoints."""

    config_file: Path | None = None
    overrides: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    bench: Path | None = None
    outputs: list[Path] = field(default_factory=list)
    server: str | None = None
    api_key: str | None = None
    work_dir: Path | None = None
    html: Path | None = None
    gold: Path | None = None
    parity: bool = False


@dataclass
class EvalResult:
    """The runs evaluated (dicts, see the module docstring), the problem lines, and the exit code."""

    runs: list[dict[str, Any]]
    problems: list[str]
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        """One run flat; several side by side with the best run per metric row."""
        from docvl.eval.report import best_by_row

        if len(self.runs) == 1:
            return {**self.runs[0], "problems": self.problems}
        return {"checkpoints": self.runs, "best": best_by_row(self.runs), "problems": self.problems}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def resolve_checkpoint_arg(arg: str, output_dir: str) -> Path | str:
    """A checkpoint folder as given, or `arg` inside `train.output_dir`; `tiny:<family>` as is."""
    from docvl.models.tiny import TINY_PREFIX

    if arg.startswith(TINY_PREFIX):
        return arg
    for candidate in (Path(arg).expanduser(), Path(output_dir).expanduser() / arg):
        if candidate.is_dir():
            return candidate
    raise UsageError("checkpoint not found", arg, f"neither a folder nor one in train.output_dir {output_dir}")


def target_config(checkpoint: Path | str | None, options: EvalOptions, report: Report) -> DocvlConfig:
    """The checkpoint's own config, or without one the config of the checkpoint `--server` serves; the
    runtime sections of `--config` and the `--set` overrides on top."""
    from docvl.runconfig import resolve_run_config

    if checkpoint is None and options.server:
        from docvl.infer.server_config import config_for_server

        return config_for_server(
            options.server,
            model=None,
            config_file=options.config_file,
            overrides=options.overrides,
            api_key=options.api_key,
            warn=report,
        )
    return resolve_run_config(checkpoint, options.config_file, options.overrides, warn=report)


def bench_dict(report: BenchReport, bench_dir: Path, outputs: Path | None) -> dict[str, Any]:
    """A bench report for the eval report: scores, interval, per-test verdicts and problem lines."""
    return {
        "dir": str(bench_dir),
        "outputs": str(outputs) if outputs else None,
        "overall": report.overall,
        "ci_low": report.ci_low,
        "ci_high": report.ci_high,
        "per_file": report.per_file,
        "tests": report.tests,
        "problems": report.problems,
    }


def generate_bench(engine: Any, config: DocvlConfig, bench_dir: Path, work_dir: Path, report: Report) -> Path:
    """Write `<pdf stem>_pg<page>_repeat<k>.md` for every bench page with a test, `eval.bench_repeats` times.

    Documents asking for the same pages share one convert run per repeat; the Markdown is the page text
    convert delivers (the text layer for a page without an accepted reply, as a user would get it).
    """
    from docvl.eval.heldout import eval_generation_config
    from docvl.infer.convert import Converter
    from docvl.infer.inputs import InputDoc
    from docvl.io import atomic_write_text
    from docvl.results import latest

    loaded = load_bench(bench_dir)  # its problems are reported once, by score_bench
    wanted: dict[str, set[int]] = defaultdict(set)
    for tests in loaded.by_file.values():
        for test in tests:
            wanted[test.pdf].add(test.page)
    groups: dict[str, list[InputDoc]] = defaultdict(list)
    for pdf, pages in sorted(wanted.items()):
        groups[",".join(str(page) for page in sorted(pages))].append(
            InputDoc(str(bench_dir / "pdfs" / pdf), pdf, "pdf")
        )
    outputs = work_dir / "bench"
    generation = eval_generation_config(config)
    for repeat in range(1, config.eval.bench_repeats + 1):
        for number, (spec, docs) in enumerate(groups.items()):
            out = work_dir / "bench-runs" / f"repeat{repeat}-{number}"
            Converter(engine, generation, out, pages=spec, report=report).run(docs)
            for relpath, record in latest(out, on_bad=report).items():
                for page in record.pages:
                    target = outputs / f"{relpath.removesuffix('.pdf')}_pg{page.page}_repeat{repeat}.md"
                    atomic_write_text(target, page.text)
    outputs.mkdir(parents=True, exist_ok=True)
    return outputs


def evaluate_checkpoint(
    name: str,
    checkpoint: Path | str | None,
    config: DocvlConfig,
    options: EvalOptions,
    work_dir: Path,
    report: Report,
    progress: Progress,
) -> dict[str, Any]:
    """Loss and generation metrics per held-out set, and the bench, for one checkpoint (or server)."""
    from docvl.eval.heldout import eval_sets, generate_set
    from docvl.infer.factory import open_engine

    sets, problems = eval_sets(config, options.sets) if options.sets or not options.bench else ([], [])
    for line in problems:
        report(line)
    if not sets and not options.bench:
        raise UsageError("no held-out page set to evaluate", hint="give --sets NAME=DIR or set data.eval")
    losses = {}
    if checkpoint and sets:
        from docvl.train.loss_eval import teacher_forced_losses

        losses = teacher_forced_losses(checkpoint, config, [s for _, s in sets], work_dir)
    run: dict[str, Any] = {"name": name, "checkpoint": str(checkpoint) if checkpoint else None, "sets": {}}
    with open_engine(
        config, server=options.server, api_key=options.api_key, model=checkpoint, log_dir=work_dir
    ) as engine:
        for path, pageset in sets:
            with progress(f"eval {name} on {pageset.name}", len(pageset.pairs)) as on_page:
                result = generate_set(engine, config, path, pageset, work_dir / "sets", report=report, on_page=on_page)
            result.loss, result.loss_skipped = losses.get(pageset.name, (None, 0))
            run["sets"][pageset.name] = result.to_dict()
        if options.bench:
            outputs = generate_bench(engine, config, options.bench, work_dir, report)
            run["bench"] = bench_dict(score_bench(options.bench, outputs), options.bench, outputs)
    return run


def write_html(options: EvalOptions, runs: list[dict[str, Any]]) -> None:
    """The `--html` report of the runs' bench pages, when asked for."""
    if options.html is not None and options.bench is not None:
        from docvl.eval.html_report import write_html_report

        write_html_report(options.html, runs, options.bench, options.gold)


def score_output_folders(bench: Path, folders: list[Path], problem: Report) -> tuple[list[dict[str, Any]], int]:
    """Each outputs folder scored on the bench's tests, loaded once; a folder that is missing is a problem line."""
    check_bench_dir(bench)
    loaded = load_bench(bench)
    for line in loaded.problems:
        problem(line)
    runs = []
    for folder in folders:
        try:
            scored = score_outputs(loaded, folder)
        except UsageError as exc:
            problem(str(exc))
            continue
        for line in scored.problems:
            problem(line)
        scored.problems[:0] = loaded.problems
        runs.append({"name": str(folder), "checkpoint": None, "sets": {}, "bench": bench_dict(scored, bench, folder)})
    if not runs:
        raise UsageError("none of the --outputs folders could be scored")
    return runs, 1 if len(runs) < len(folders) else 0


@contextlib.contextmanager
def _no_progress(description: str, total: int) -> Iterator[Callable[[int, int], None]]:
    yield lambda pages, fallbacks: None


def run_eval(
    checkpoints: list[str],
    options: EvalOptions,
    *,
    report: Report = lambda line: None,
    progress: Progress = _no_progress,
) -> EvalResult:
    """Evaluate each checkpoint (or the server, or pre-written bench outputs); see the module docstring."""
    problems: list[str] = []

    def problem(line: str) -> None:
        problems.append(line)
        report(line)

    if options.outputs:
        if options.bench is None or checkpoints or options.server:
            raise UsageError("--outputs scores pre-written bench Markdown: give --bench DIR and no checkpoint/server")
        runs, exit_code = score_output_folders(options.bench, options.outputs, problem)
        write_html(options, runs)
        return EvalResult(runs, problems, exit_code)
    if not checkpoints and not options.server:
        raise UsageError("nothing to evaluate", hint="give CHECKPOINT..., --server URL, or --bench DIR --outputs DIR")

    from docvl.runconfig import resolve_run_config

    base = resolve_run_config(None, options.config_file, options.overrides, warn=report)
    targets: list[tuple[str, Path | str | None]] = []
    for arg in checkpoints:
        try:
            targets.append((arg, resolve_checkpoint_arg(arg, base.train.output_dir)))
        except DocvlError as exc:
            problem(str(exc))
    if not targets and not (options.server and not checkpoints):
        raise UsageError("no checkpoint could be found", hint="; ".join(problems))
    targets = targets or [(options.server or "", None)]

    from docvl.models.registry import resolve_checkpoint

    runs = []
    parity_failed = False
    with contextlib.ExitStack() as stack:
        work_root = options.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="docvl-eval-")))
        for number, (name, checkpoint) in enumerate(targets):
            config = target_config(checkpoint, options, report)
            resolved = resolve_checkpoint(str(checkpoint)) if checkpoint else None
            work_dir = work_root / f"{number:02d}-{Path(name).name or 'server'}"
            if options.parity:
                run = parity_run(name, resolved, config, options, work_dir, problem, progress)
                parity_failed = parity_failed or not run["parity"]["ok"]
                runs.append(run)
                continue
            run = evaluate_checkpoint(name, resolved, config, options, work_dir, problem, progress)
            for line in (run.get("bench") or {}).get("problems", []):
                if line not in problems:  # the same bench, scored for each checkpoint
                    problem(line)
            runs.append(run)
        write_html(options, runs)  # while generated bench outputs still exist
    return EvalResult(runs, problems, exit_code=1 if parity_failed or len(targets) < len(checkpoints) else 0)


def parity_run(
    name: str,
    checkpoint: Path | str | None,
    config: DocvlConfig,
    options: EvalOptions,
    work_dir: Path,
    report: Report,
    progress: Progress,
) -> dict[str, Any]:
    """`--parity`: the held-out pages generated by transformers and by vLLM, compared (`docvl.eval.parity`)."""
    from docvl.eval.heldout import eval_sets
    from docvl.eval.parity import check_parity

    if not isinstance(checkpoint, Path):
        raise UsageError("--parity compares a local checkpoint folder with its served self; give one")
    sets, problems = eval_sets(config, options.sets)
    for line in problems:
        report(line)
    pairs = [(f"{pageset.name}/{Path(pair.pdf).name}", pair.pdf) for _, pageset in sets for pair in pageset.pairs]
    if not pairs:
        raise UsageError("no held-out page to check parity on", hint="give --sets NAME=DIR or set data.eval")
    with progress(f"parity {name}", len(pairs)) as on_page:
        parity = check_parity(checkpoint, config, pairs, server=options.server, work_dir=work_dir, on_page=on_page)
    return {"name": name, "checkpoint": str(checkpoint), "sets": {}, "parity": parity}
