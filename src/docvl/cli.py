"""The `docvl` command line: one thin command per stage. Parse the config and overrides, call the stage.

Library code raises `docvl.errors.DocvlError`; `_stage` turns it into one line on stderr and the exit code
(0 ok, 1 the work found failures, 2 usage or config error). Heavy imports (torch, transformers) happen
inside the commands that need them, so `docvl --help` and `docvl validate` start fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer

from docvl import __version__, console
from docvl.errors import DocvlError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

# typer vendors its own copy of click (typer._click): `typer.BadParameter` is not a `click.ClickException`, and a
# usage error of either copy must reach typer as it is (its usual message, exit 2), not become a "crash" line.
_CLICK_ERRORS = (click.ClickException, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"))


def _hide_flag_types() -> None:
    """typer 0.29's rich help prints `<bool>` in the type column of plain flags (`--json`, `--help`), which take
    no value; show nothing there, as click does. A no-op on a typer without that method."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None:
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else shown(self, ctx)

    option.display_type_rich = display_type_rich


_hide_flag_types()

app = typer.Typer(
    name="docvl",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Fine-tune vision-language models for document OCR, and run them: PDF page in, Markdown out.\n\n"
        "Example: `docvl prepare examples/pdfs --out runs/pages && docvl validate runs/pages`"
    ),
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="A docvl YAML config (defaults: the embedded tiny setup).")
]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config key, e.g. --set data.target_longest_image_dim=1024")
]
JobsOption = Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: all cores).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"docvl {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail; tracebacks on errors.")] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """docvl: the whole fine-tuning loop for document VLMs in one tool."""
    console.configure(quiet=quiet, verbose=verbose)


def _stage(func: F) -> F:
    """Turn docvl errors into one line + exit code; tracebacks only under -v."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with console.results_only():
                return func(*args, **kwargs)
        except DocvlError as exc:
            if console.verbosity():
                console.err().print_exception()
            console.err().print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.err().print("interrupted; finished work is kept")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, *_CLICK_ERRORS):
            raise
        except Exception as exc:  # a bug or an environment problem: still one line unless -v
            if console.verbosity():
                console.err().print_exception()
            console.err().print(
                f"[red]error:[/red] {type(exc).__name__}: {exc} (run with -v for the traceback)", highlight=False
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _load_config(path: Path | None, overrides: list[str] | None, fallback_dir: Path | None = None) -> Any:
    """The config from --config, else the one saved in `fallback_dir`, else the defaults; then overrides."""
    from docvl.config import CONFIG_FILENAME
    from docvl.runconfig import resolve_run_config

    if path is None and fallback_dir is not None and (fallback_dir / CONFIG_FILENAME).is_file():
        path = fallback_dir / CONFIG_FILENAME
    return resolve_run_config(None, path, overrides or [], warn=_warn)


def _warn(line: str) -> None:
    from rich.markup import escape

    console.err().print(f"[yellow]warning[/yellow] {escape(line)}", highlight=False)


def _print_json(data: dict[str, Any]) -> None:
    console.results_stream().write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command(
    epilog="Example: `docvl prepare examples/pdfs examples/pairs --out runs/pages --eval-fraction 0.2`",
)
@_stage
def prepare(
    out: Annotated[Path, typer.Option("--out", "-o", help="The page set directory to create or finish.")],
    sources: Annotated[
        list[Path] | None,
        typer.Argument(help="PDF files or directories, pair folders, olmOCR-mix datasets (none for synthetic)."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="auto | pdfs | pairs | olmocr-mix | converted | synthetic (default prepare.kind: auto, per source; "
            "synthetic generates pages from the config's `synthetic` section)."
        ),
    ] = None,
    eval_fraction: Annotated[
        float | None, typer.Option(help="Share of source documents held out for eval (default prepare.eval_fraction).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the train/eval split (default prepare.seed).")] = None,
    jobs: JobsOption = None,
    link: Annotated[bool, typer.Option(help="Symlink existing single-page PDFs instead of copying them.")] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
    json_: JsonOption = False,
) -> None:
    """Build a page set (single-page PDF + Markdown pairs, manifest.jsonl, train/ and eval/ splits)."""
    from docvl.data.prepare import prepare as run_prepare

    if eval_fraction is not None and not 0 <= eval_fraction < 1:
        raise typer.BadParameter("must be in [0, 1)", param_hint="--eval-fraction")
    flags = {"kind": kind, "eval_fraction": eval_fraction, "seed": seed}
    cfg = _load_config(config, [*(set_ or []), *(f"prepare.{k}={v}" for k, v in flags.items() if v is not None)])
    with console.progress_bar("prepare", None) as (advance, set_total):
        summary = run_prepare(
            sources or [],
            out,
            cfg,
            kind=cfg.prepare.kind,
            eval_fraction=cfg.prepare.eval_fraction,
            seed=cfg.prepare.seed,
            jobs=jobs,
            link=link,
            progress=advance,
            on_total=set_total,
        )
    err = console.err()
    for error in summary.errors:
        err.print(f"[yellow]skipped[/yellow] {error['path']}: {error['message']}", highlight=False)
    if cfg.prepare.eval_fraction > 0 and summary.eval == 0:
        err.print(
            f"[yellow]warning[/yellow] {out} has no eval pages (--eval-fraction {cfg.prepare.eval_fraction:g}): the "
            "documents "
            "held out for it failed, or there were too few to hold one out; eval would score nothing",
            highlight=False,
        )
    if json_:
        _print_json({"out": str(out), **summary.to_dict()})
    elif not console.is_quiet():
        console.out().print(
            f"prepared {summary.pages} pages ({summary.train} train, {summary.eval} eval in the set) from "
            f"{summary.docs} documents into {out}: {summary.skipped_docs} already done, "
            f"{summary.duplicates} duplicates, {summary.failed} failed, "
            f"{summary.seconds:.1f} s ({summary.to_dict()['pages_per_s'] or 0} pages/s)",
            highlight=False,
        )
    if summary.failed:
        raise typer.Exit(1)


@app.command(
    epilog=(
        "Examples: `docvl validate runs/pages --quarantine runs/bad`  ·  "
        "`docvl validate --config configs/tiny-cpu.yaml`"
    ),
)
@_stage
def validate(
    pageset: Annotated[Path | None, typer.Argument(help="The page set to check.")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    json_: JsonOption = False,
    report: Annotated[Path | None, typer.Option(help="Write the failures as JSONL to this file.")] = None,
    quarantine: Annotated[Path | None, typer.Option(help="Move failing pairs into this directory.")] = None,
    render: Annotated[bool, typer.Option(help="Render every page (the renders check).")] = True,
    tokens: Annotated[
        bool, typer.Option(help="Count tokens with the config's model processor; fail pairs over data.max_length.")
    ] = False,
    jobs: JobsOption = None,
) -> None:
    """Check a page set pair by pair (and/or a config) and say exactly what is wrong."""
    from docvl.config import dump_config

    cfg = _load_config(config, set_, fallback_dir=pageset)
    if pageset is None:
        if config is None:
            raise typer.BadParameter("give a PAGESET, --config FILE, or both")
        if json_:
            _print_json({"config": str(config), "ok": True, "resolved": cfg.model_dump(mode="json")})
        else:
            console.out().print(dump_config(cfg), highlight=False, markup=False)
            console.err().print(f"config {config} is valid")
        return

    from docvl.data.pageset import find_pairs
    from docvl.data.validate import ValidateOptions, validate_pageset
    from docvl.data.validate import quarantine as move_failures
    from docvl.errors import UsageError
    from docvl.io import atomic_write_text, check_writable
    from docvl.render_guard import RenderLimits
    from docvl.rendering import RenderSettings

    if report:
        check_writable(report)
    pairs = find_pairs(pageset)
    if not pairs:
        raise UsageError("no page pairs to check (looked for x.pdf + x.md pairs, or a manifest.jsonl)", pageset)

    settings = RenderSettings.from_config(cfg)
    options = ValidateOptions(
        render_longest_side=settings.longest_side if render else None,
        max_page_inches=settings.max_page_inches,
        render_limits=RenderLimits.from_config(cfg.data),
        tokens_with=cfg if tokens else None,
    )
    with console.progress_bar("validate", len(pairs)) as (advance, _):
        result = validate_pageset(pageset, options, jobs=jobs, progress=advance)
    moved = move_failures(result, pageset, quarantine) if quarantine else []
    if json_:
        _print_json({"pageset": str(pageset), **result.to_dict(), "quarantined": [str(p) for p in moved]})
    else:
        _print_validate_table(result, pageset, len(moved))
    if report:  # after the results are out: a failing write must not lose them
        atomic_write_text(report, "".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in result.failures))
    if result.failed:
        raise typer.Exit(1)


def _print_validate_table(result: Any, pageset: Path, moved: int) -> None:
    from rich.table import Table

    out = console.out()
    if not console.is_quiet():
        table = Table(title=f"validate {pageset}")
        table.add_column("check")
        table.add_column("failed", justify="right")
        for check, failed in result.counts().items():
            table.add_row(check, f"[red]{failed}[/red]" if failed else "0")
        out.print(table)
    for failure in result.failures:
        out.print(f"{failure.path}: [bold]{failure.check}[/bold]: {failure.message}", highlight=False)
    rate = f"{result.checked / result.seconds:.1f}" if result.seconds else "-"
    out.print(
        f"checked {result.checked} pairs: {result.checked - result.failed} passed, {result.failed} failed "
        f"({result.seconds:.1f} s, {rate} pages/s)" + (f"; {moved} files quarantined" if moved else ""),
        highlight=False,
    )


@app.command(
    epilog=(
        "Examples: `docvl serve runs/tiny/checkpoint-500 --dry-run`  ·  "
        "`docvl serve CKPT --backend transformers --port 8000`  ·  `docvl serve CKPT -- --enforce-eager`"
    ),
)
@_stage
def serve(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint folder (weights, processor, docvl.yaml).")],
    extra: Annotated[list[str] | None, typer.Argument(help="After `--`: extra arguments for `vllm serve`.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default serve.port).")] = None,
    host: Annotated[str | None, typer.Option(help="Host (default serve.host, 127.0.0.1).")] = None,
    backend: Annotated[
        str | None, typer.Option(help="auto | vllm | transformers (default serve.backend: auto).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the vLLM command and exit.")] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Serve a checkpoint over an OpenAI-compatible API (vLLM, or our transformers server for CPU)."""
    import shlex

    from docvl.infer.factory import resolve_backend
    from docvl.models.registry import family_of, resolve_checkpoint
    from docvl.system import check_port_free, name_cpu_accelerator

    resolved = resolve_checkpoint(checkpoint)
    family_of(resolved)  # a checkpoint that does not exist (or cannot be fetched) fails here, in a second
    cfg = _load_config_for_run(checkpoint, config, set_, backend)
    host, port = host or cfg.serve.host, port if port is not None else cfg.serve.port
    wants_vllm = dry_run or bool(extra)  # both only make sense for vLLM, whatever this machine has

    def ready(url: str, where: str = "") -> None:
        console.err().print(f"serving {checkpoint} at {url} ({where}Ctrl-C stops)", highlight=False)

    if not dry_run:
        check_port_free(host, port)
        name_cpu_accelerator()
    if cfg.serve.backend == "transformers" or (not wants_vllm and resolve_backend(cfg.serve) == "transformers"):
        if wants_vllm:
            raise typer.BadParameter("--dry-run and extra vLLM arguments need --backend vllm")
        from docvl.infer.server import serve_transformers

        serve_transformers(checkpoint, cfg, host=host, port=port, ready=ready)
        return
    import tempfile

    from docvl.infer.server import serve_vllm
    from docvl.infer.vllm_cmd import build_vllm_command, require_vllm
    from docvl.system import free_port

    if port == 0 and not dry_run:  # vLLM would pick one and not say which: pick it here
        port = free_port()
    command = build_vllm_command(resolved, cfg, host=host, port=port, extra_args=extra or [])
    if dry_run:
        console.out().print(shlex.join(command), highlight=False, markup=False, soft_wrap=True)
        return
    require_vllm(command)
    log_path = Path(tempfile.mkdtemp(prefix="docvl-serve-")) / "vllm.log"
    code = serve_vllm(
        checkpoint,
        command,
        log_path=log_path,
        startup_timeout_s=cfg.serve.startup_timeout_s,
        echo=None if console.is_quiet() else sys.stderr,
        ready=lambda url: ready(url, f"vLLM log: {log_path}; "),
    )
    raise typer.Exit(code)


def _load_config_for_run(
    checkpoint: str | None, config: Path | None, overrides: list[str] | None, backend: str | None
) -> Any:
    """The run config: the checkpoint's saved config first (see `docvl.runconfig`)."""
    from docvl.runconfig import resolve_run_config

    overrides = [*(overrides or []), *([f"serve.backend={backend}"] if backend else [])]
    return resolve_run_config(checkpoint, config, overrides, warn=_warn)


@app.command(
    epilog=(
        "Examples: `docvl convert pdfs/ --out md/ --server http://127.0.0.1:8000/v1`  ·  "
        "`docvl convert list.txt --out md/ --model CKPT --shard 1/4`"
    ),
)
@_stage
def convert(
    inputs: Annotated[
        list[str], typer.Argument(help="PDFs, PNG/JPEG images, directories, globs, .txt path lists, fsspec URLs.")
    ],
    out_arg: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Output directory (Markdown + results.jsonl): a path, or an fsspec URL (s3://bucket/prefix, gs://...: "
            "each document is published there as objects once finished).",
        ),
    ],
    server: Annotated[
        list[str] | None,
        typer.Option(
            help="Base URL of an OpenAI-compatible API, e.g. http://host:8000/v1; with --ray, several (repeat the "
            "option) share the pages."
        ),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key for --server (or $DOCVL_API_KEY; $OPENAI_API_KEY is never sent).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="A checkpoint to run for this conversion; with --server, the checkpoint it serves (its config "
            "is used) or the server's model name."
        ),
    ] = None,
    pages: Annotated[str | None, typer.Option(help="Pages to convert, e.g. 1-3,7 (1-based).")] = None,
    workers: Annotated[int | None, typer.Option(help="Rendering processes (default: one per CPU).")] = None,
    shard: Annotated[str | None, typer.Option(help="Convert only shard I of N (1-based), e.g. 2/8.")] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run on Ray Data (pip install 'docvl[ray]'): alone (last, or before another option), a Ray "
            "started for this run; with an address (--ray=HOST:6379), join that cluster.",
        ),
    ] = None,
    stage: Annotated[
        Path | None,
        typer.Option(help="With an --out URL: the local folder the run works in (default: a cache folder per URL)."),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    json_: JsonOption = False,
) -> None:
    """Convert documents to Markdown (+ one JSONL record per document); resumable, shardable, on Ray with --ray."""
    from docvl.errors import UsageError
    from docvl.infer.inputs import collect_inputs, parse_shard
    from docvl.io import check_writable, is_remote, local_path
    from docvl.models.registry import family_of, resolve_checkpoint
    from docvl.system import name_cpu_accelerator

    remote = None
    if is_remote(out_arg):  # the run works in a local stage and publishes each document to the URL
        from docvl.infer.remote_out import open_remote

        remote = open_remote(out_arg)
        out = stage or remote.default_stage()
    elif stage is not None:
        raise typer.BadParameter("--stage is for an --out URL (s3://, gs://, ...); a local --out is written directly")
    else:
        out = Path(local_path(out_arg))
    servers, server = server or [], (server or [None])[0]
    if server is None and model is None:
        raise typer.BadParameter("give --server URL or --model CHECKPOINT")
    if len(servers) > 1 and ray is None:
        raise typer.BadParameter("several --server URLs are shared out by --ray; without it, give one")
    if server is None:
        cfg = _load_config_for_run(model, config, set_, None)
    else:
        from docvl.infer.server_config import config_for_server
        from docvl.runconfig import saved_config_path

        cfg = config_for_server(
            server, model=model, config_file=config, overrides=set_ or [], api_key=api_key, warn=_warn
        )
        if saved_config_path(model) is not None:
            model = None  # a local checkpoint gave the config; the server names the model its own way
    shard_spec = parse_shard(shard) if shard else None
    docs, refused = collect_inputs(inputs, out)
    if not docs:  # cheap checks first: the model may take minutes to load
        raise UsageError(f"no documents to convert in {', '.join(inputs)} (looked for PDF, PNG and JPEG files)")
    check_writable(out, folder=True)
    if server is None:
        family_of(resolve_checkpoint(str(model)))
    publishing: Any = contextlib.nullcontext()
    if remote is not None:
        late = remote.sync(out)
        if late and not console.is_quiet():
            console.err().print(f"published {late} documents an earlier run finished in {out}", highlight=False)
        publishing = remote.publishing(out)
    with publishing as publish:
        if ray is not None:
            summary = _convert_on_ray(docs, refused, out, cfg, ray, servers, api_key, model, pages, shard_spec, publish)
        else:
            if server is None:
                name_cpu_accelerator()
            summary = _convert_here(
                docs, refused, out, cfg, server, api_key, model, pages, workers, shard_spec, publish
            )  # fmt: skip
    if json_:
        where = {"out": str(out)} if remote is None else {"out": remote.url, "stage": str(out)}
        _print_json({**where, **summary.to_dict()})
    elif not console.is_quiet():
        console.out().print(summary.line(), highlight=False)
    if summary.failures:
        raise typer.Exit(1)


def _convert_here(
    docs: list[Any],
    refused: list[str],
    out: Path,
    cfg: Any,
    server: str | None,
    api_key: str | None,
    model: str | None,
    pages: str | None,
    workers: int | None,
    shard_spec: tuple[int, int] | None,
    publish: Any,
) -> Any:
    """`convert` on this machine: one engine, a process pool of render workers."""
    from docvl.infer.convert import convert_docs
    from docvl.infer.factory import open_engine

    engine = open_engine(cfg, server=server, api_key=api_key, model=model, log_dir=out / ".docvl")
    try:
        with _convert_progress(lambda: _pages_to_convert(docs, out, pages, shard_spec)) as (report, on_page):
            summary = convert_docs(
                docs,
                refused,
                out,
                engine,
                cfg,
                pages=pages,
                render_workers=workers,
                shard=shard_spec,
                report=report,
                on_page=on_page,
                publish=publish,
            )
    finally:
        engine.close()
    return summary


def _convert_on_ray(
    docs: list[Any],
    refused: list[str],
    out: Path,
    cfg: Any,
    address: str,
    servers: list[str],
    api_key: str | None,
    model: str | None,
    pages: str | None,
    shard_spec: tuple[int, int] | None,
    publish: Any,
) -> Any:
    """`convert --ray`: the same conversion as stages of Ray Data (`docvl.infer.ray_convert`)."""
    from docvl.infer.ray_convert import ray_convert_docs
    from docvl.infer.ray_stages import EngineSpec

    engine = EngineSpec(servers=tuple(servers), api_key=api_key, model=model)
    with _convert_progress(lambda: _pages_to_convert(docs, out, pages, shard_spec)) as (report, on_page):
        return ray_convert_docs(
            docs, refused, out, engine, cfg, address=None if address == RAY_LOCAL else address, pages=pages,
            shard=shard_spec, report=report, on_page=on_page, publish=publish,
        )  # fmt: skip


def _pages_to_convert(docs: list[Any], out: Path, pages: str | None, shard: tuple[int, int] | None) -> int:
    """The pages this run will convert: those of the shard's documents not done yet (for the bar's total)."""
    from docvl.infer.inputs import in_shard
    from docvl.io import sha256_file
    from docvl.pdf import PdfFile, parse_page_spec
    from docvl.results import done_keys

    done = done_keys(out)
    done_paths = {relpath for relpath, _ in done}
    total = 0
    for doc in docs:
        if not in_shard(doc, shard):
            continue
        try:
            if doc.relpath in done_paths and (doc.relpath, sha256_file(doc.path)) in done:
                continue
            if doc.kind != "pdf":
                total += 1
                continue
            with PdfFile(doc.path) as pdf:
                total += len(parse_page_spec(pages, len(pdf))) if pages else len(pdf)
        except Exception:  # noqa: BLE001 - a document that cannot be read is reported by the run itself
            continue
    return total


@contextlib.contextmanager
def _convert_progress(count_pages: Callable[[], int] | None = None) -> Any:
    """(report, on_page) callbacks: problem lines above a bar of pages, pages/s and fallbacks on stderr. The
    total (and so the ETA) comes from `count_pages`, run in a thread so that the run starts at once."""
    import threading

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    err = console.err()
    report = lambda line: err.print(f"[yellow]problem[/yellow] {line}", highlight=False)  # noqa: E731
    if console.is_quiet() or not err.is_terminal:
        yield report, (lambda pages, fallbacks: None)
        return
    columns = (
        TextColumn("convert"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[fallbacks]} fallbacks"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("convert", total=None, fallbacks=0, rate="")
        state = {"fallbacks": 0}
        if count_pages is not None:
            counter = lambda: bar.update(task, total=count_pages())  # noqa: E731
            threading.Thread(target=counter, name="docvl-count-pages", daemon=True).start()

        def on_page(pages: int, fallbacks: int) -> None:
            state["fallbacks"] += fallbacks
            bar.advance(task, pages)
            speed = bar.tasks[task].speed
            bar.update(task, fallbacks=state["fallbacks"], rate=f"{speed:.2f} pages/s" if speed else "")

        yield (lambda line: bar.console.print(f"[yellow]problem[/yellow] {line}", highlight=False)), on_page


@app.command(
    epilog=(
        "Examples: `docvl train configs/tiny-cpu.yaml`  ·  `docvl train configs/qwen3_vl_8b.yaml --gpus 4`  ·  "
        "`docvl train CONFIG train.learning_rate=1e-5 --resume auto`"
    ),
)
@_stage
def train(
    config: Annotated[Path, typer.Argument(help="A docvl YAML config (e.g. configs/tiny-cpu.yaml).")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. train.max_steps=10")] = None,
    gpus: Annotated[
        int | None, typer.Option(help="Processes per node (GPUs, or CPU processes with train.use_cpu).")
    ] = None,
    nnodes: Annotated[int, typer.Option(help="Machines taking part.")] = 1,
    node_rank: Annotated[int, typer.Option(help="This machine's rank, 0..nnodes-1.")] = 0,
    master_addr: Annotated[str, typer.Option(help="Address of node 0 (with --nnodes > 1).")] = "127.0.0.1",
    resume: Annotated[
        str | None, typer.Option(help="auto (latest complete checkpoint in output_dir) or a checkpoint path.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Remove the checkpoints of an earlier run in output_dir first.")
    ] = False,
    vllm_server_command: Annotated[
        bool,
        typer.Option(
            "--vllm-server-command",
            help="GRPO with grpo.vllm_mode=server: print the `trl vllm-serve` command to start first, and exit.",
        ),
    ] = False,
) -> None:
    """Fine-tune a model on page sets (train.method: sft, or grpo with unit-test rewards); checkpoints carry
    weights, processor and docvl.yaml."""
    from docvl.train.run import train as run_train

    cfg = _load_config(config, overrides)
    if vllm_server_command:
        import shlex

        from docvl.train.grpo_vllm import server_command

        console.out().print(shlex.join(server_command(cfg)), highlight=False, soft_wrap=True)
        return
    result = run_train(
        cfg,
        gpus=gpus,
        nnodes=nnodes,
        node_rank=node_rank,
        master_addr=master_addr,
        resume=resume,
        overwrite=overwrite,
    )
    if result.exit_code:
        raise typer.Exit(result.exit_code)
    if result.final_dir is not None and not console.is_quiet():
        if result.losses:
            loss = f"last loss {result.losses[-1][1]:.4f}"
        else:  # no step logged a loss (train.logging_steps > the steps run)
            loss = f"mean loss {result.train_loss:.4f}" if result.train_loss is not None else "no loss logged"
        skipped = f"{result.skipped_samples} samples skipped"
        if cfg.train.method == "grpo":
            rejected = sum(result.rejected.values())
            skipped = f"{result.pages_without_gold} pages without tests or gold skipped, {rejected} pages rejected"
        console.out().print(
            f"trained {result.global_step} steps: {loss}, {skipped}, "
            f"{len(result.broken_pairs)} broken pairs; final model in {result.final_dir}",
            highlight=False,
        )


@app.command(
    "eval",
    epilog=(
        "Examples: `docvl eval --bench examples/bench --outputs examples/bench/docvl_example`  ·  "
        "`docvl eval checkpoint-500 final --config configs/tiny-cpu.yaml --report eval.json`  ·  "
        "`docvl eval CKPT --sets heldout=runs/pages --bench olmOCR-bench/bench_data --json`"
    ),
)
@_stage
def evaluate(
    checkpoints: Annotated[
        list[str] | None, typer.Argument(help="Checkpoint folders, or names in the config's train.output_dir.")
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    sets: Annotated[
        list[str] | None, typer.Option("--sets", help="NAME=DIR held-out page set (default: data.eval).")
    ] = None,
    bench: Annotated[Path | None, typer.Option(help="An olmOCR-bench directory (*.jsonl + pdfs/).")] = None,
    outputs: Annotated[
        list[Path] | None,
        typer.Option(
            help="Score Markdown already written for --bench (STEM_pgN_repeatK.md); repeat to compare folders."
        ),
    ] = None,
    server: Annotated[str | None, typer.Option(help="Generate with this OpenAI-compatible API instead.")] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep generated Markdown here (default: a temporary folder).")
    ] = None,
    parity: Annotated[
        bool,
        typer.Option("--parity", help="Check that vLLM (or --server) answers the held-out pages as transformers does."),
    ] = False,
    json_: JsonOption = False,
    report: Annotated[Path | None, typer.Option(help="Also write the JSON report to this file.")] = None,
    html: Annotated[
        Path | None,
        typer.Option(help="Also write a self-contained HTML report of the bench pages, worst first (needs --bench)."),
    ] = None,
    gold: Annotated[
        Path | None,
        typer.Option(help="Gold Markdown for the --html report, named like outputs (STEM_pgN_repeatK.md)."),
    ] = None,
) -> None:
    """Evaluate checkpoints: loss and edit distance on held-out pages, olmOCR-bench unit tests."""
    from docvl.eval.parity import parity_line
    from docvl.eval.report import render_table, worst_lines
    from docvl.eval.run import EvalOptions, run_eval
    from docvl.io import atomic_write_text, check_writable

    if report:
        check_writable(report)
    if not outputs:  # a model will be loaded
        from docvl.system import name_cpu_accelerator

        name_cpu_accelerator()
    err = console.err()
    if (html or gold) and bench is None:
        raise UsageError("--html and --gold describe bench pages: give --bench DIR")
    options = EvalOptions(
        config, set_ or [], sets or [], bench, outputs or [], server, None, work_dir, html, gold, parity
    )
    result = run_eval(
        checkpoints or [],
        options,
        report=lambda line: err.print(f"[yellow]problem[/yellow] {line}", highlight=False),
        progress=_eval_progress,
    )
    if json_:
        _print_json(result.to_dict())
    elif not console.is_quiet() and parity:
        for run in result.runs:
            console.out().print(parity_line(run["name"], run["parity"]), highlight=False, markup=False)
    elif not console.is_quiet():
        out = console.out()
        out.print(render_table(result.runs))
        for line in (line for run in result.runs for line in worst_lines(run)):
            out.print(line, highlight=False, markup=False)
        out.print(f"evaluated {len(result.runs)} run(s); {len(result.problems)} problem(s)", highlight=False)
    if report:  # after the results are out: a failing write must not lose them
        atomic_write_text(report, result.to_json() + "\n")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@contextlib.contextmanager
def _eval_progress(description: str, total: int) -> Any:
    """on_page(pages, fallbacks) for convert, advancing a bar of the set's pages."""
    with console.progress_bar(description, total) as (advance, _):
        yield lambda pages, fallbacks: advance(pages)


@app.command(epilog="Example: `docvl export --soup runs/seed1/final runs/seed2/final runs/seed3/final --out runs/soup`")
@_stage
def export(
    checkpoints: Annotated[list[Path], typer.Argument(help="Checkpoint folders of one model (same docvl.yaml model).")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write (must not hold files yet).")],
    soup: Annotated[bool, typer.Option("--soup", help="Average the checkpoints' weights (model souping).")] = False,
    json_: JsonOption = False,
) -> None:
    """Write a new checkpoint made from others: with --soup, the element-wise mean of their weights."""
    if not soup:
        raise UsageError("say what to export", hint="--soup averages the checkpoints' weights")
    from docvl.train.soup import soup as make_soup

    started = time.perf_counter()
    target = make_soup(checkpoints, out)
    seconds = time.perf_counter() - started
    if json_:
        _print_json({"out": str(target), "sources": [str(p) for p in checkpoints], "seconds": round(seconds, 1)})
    elif not console.is_quiet():
        console.out().print(f"souped {len(checkpoints)} checkpoints into {target} ({seconds:.1f} s)", highlight=False)


@app.command(epilog="Example: `docvl quickstart --workdir runs/quickstart`")
@_stage
def quickstart(
    workdir: Annotated[Path, typer.Option(help="Where every stage writes; a re-run reuses it.")] = Path(
        "runs/quickstart"
    ),
    steps: Annotated[
        int | None,
        typer.Option(help="Training steps of the tiny model (default: the recipe's own, configs/tiny-learn.yaml)."),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """The whole loop on synthetic pages and a tiny model trained on CPU: prepare, validate, train, eval,
    serve, convert held-out pages, each as the real command."""
    from rich.table import Table

    from docvl.quickstart import run_quickstart

    if steps is not None and steps < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--steps")
    err = console.err()
    started = time.perf_counter()
    announce = lambda stage: err.print(f"[bold]>[/bold] {stage}")  # noqa: E731
    result = run_quickstart(workdir, steps, progress=announce, show_training=not console.is_quiet())
    total = time.perf_counter() - started
    sample = result.sample
    if json_:
        _print_json(
            {
                "workdir": str(workdir),
                "seconds": round(total, 1),
                "stages": [
                    {"name": r.name, "seconds": round(r.seconds, 1), "reused": r.reused, "summary": r.summary}
                    for r in result.stages
                ],
                "verdict": result.verdict,
                "eval_report": str(result.eval_report),
                "sample": None if sample is None else dataclasses.asdict(sample),
            }
        )
        return
    out = console.out()
    table = Table(title=f"docvl quickstart in {workdir} ({total:.0f} s)")
    for column in ("stage", "seconds", "what it did"):
        table.add_column(column)
    for stage in result.stages:
        table.add_row(stage.name, "reused" if stage.reused else f"{stage.seconds:.1f}", stage.summary)
    out.print(table)
    if sample is not None:
        source = "the model's own Markdown" if sample.from_model else "the text layer (the model's reply failed)"
        out.print(f"\n{sample.pdf}, {source}:", highlight=False, markup=False)
        out.print(sample.markdown, highlight=False, markup=False)
        out.print("\nits gold Markdown:", highlight=False, markup=False)
        out.print(sample.gold.rstrip(), highlight=False, markup=False)
    out.print(f"\n{result.verdict}", highlight=False, markup=False)
    out.print(
        f"page set {workdir / 'pages'} · checkpoints {workdir / 'train'} · eval report {result.eval_report} · "
        f"Markdown {workdir / 'converted'}",
        highlight=False,
    )


config_app = typer.Typer(no_args_is_help=True, help="Inspect the typed config.")
app.add_typer(config_app, name="config")


@config_app.command("schema", epilog="Example: `docvl config schema --markdown > docs/config.md`")
@_stage
def config_schema(
    markdown: Annotated[bool, typer.Option(help="The reference as Markdown tables (docs/config.md).")] = False,
    json_: JsonOption = False,
) -> None:
    """Every config key with its type, default and meaning, generated from the typed config."""
    from docvl.config import DocvlConfig
    from docvl.config_docs import markdown as config_markdown
    from docvl.config_docs import rows

    if json_:
        _print_json(DocvlConfig.model_json_schema())
    elif markdown:
        console.results_stream().write(config_markdown())
    else:
        from rich.table import Table

        table = Table(title="docvl config keys")
        table.add_column("key", no_wrap=True)  # a key is what users copy: never cut, the other columns wrap
        for column in ("type", "default", "meaning"):
            table.add_column(column, overflow="fold")
        for row in rows():
            table.add_row(*(cell.replace("\\|", "|") for cell in row))
        console.out().print(table)


@config_app.command("show", epilog="Example: `docvl config show configs/tiny-cpu.yaml train.max_steps=10`")
@_stage
def config_show(
    config: Annotated[Path | None, typer.Argument(help="A docvl YAML config (defaults when omitted).")] = None,
    overrides: Annotated[list[str] | None, typer.Argument(help="Dotted overrides, key=value.")] = None,
) -> None:
    """Print the resolved config: defaults, then the file, then the overrides."""
    from docvl.config import dump_config

    if config is not None and "=" in config.name:  # only overrides given: `docvl config show a.b=1`
        overrides, config = [str(config), *(overrides or [])], None

    console.out().print(dump_config(_load_config(config, overrides)), highlight=False, markup=False)


@app.command(epilog="Example: `docvl env --json > env.json` (attach it to a bug report)")
@_stage
def env(json_: JsonOption = False) -> None:
    """Versions of docvl's dependencies, CUDA and GPUs, and what each command is missing."""
    from docvl.envreport import collect

    report = collect()
    if json_:
        _print_json(report.to_dict())
        return
    out = console.out()
    out.print(f"docvl {report.docvl} · Python {report.python} · {report.platform}", highlight=False)
    for name, version in report.packages.items():
        out.print(f"  {name:<14} {version or '[dim]not installed[/dim]'}", highlight=False)
    cuda = report.cuda
    devices = ", ".join(cuda.get("devices", [])) or cuda.get("reason", "")
    out.print(f"  {'CUDA':<14} {'yes' if cuda['available'] else 'no'}: {devices}", highlight=False)
    out.print(f"  {'vllm on PATH':<14} {report.vllm_executable or 'no'}", highlight=False)
    for command, missing in report.missing_for().items():
        out.print(f"[yellow]{command}[/yellow] needs {', '.join(missing)}", highlight=False)


_GLOBAL_FLAGS = {"-q", "--quiet", "-v", "-vv", "-vvv", "--verbose"}


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Let `-q`/`-v` follow the command too (`docvl validate runs/pages -q`), as users type them: they are
    options of `docvl` itself, so they move in front of the command (never past a `--`)."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [arg for arg in argv[:end] if arg in _GLOBAL_FLAGS]
    rest = [arg for arg in argv[:end] if arg not in _GLOBAL_FLAGS]
    return flags + rest + argv[end:]


RAY_LOCAL = "local"  # `--ray` without an address: a Ray started for the run


def ray_without_address(argv: list[str]) -> list[str]:
    """`--ray` with no value (last, or followed by another option) as `--ray=local`: click options take a value."""
    return [
        f"--ray={RAY_LOCAL}" if arg == "--ray" and (i + 1 == len(argv) or argv[i + 1].startswith("-")) else arg
        for i, arg in enumerate(argv)
    ]


def main() -> None:
    """Console-script entry point."""
    app(args=ray_without_address(hoist_global_flags(sys.argv[1:])))


if __name__ == "__main__":
    main()
