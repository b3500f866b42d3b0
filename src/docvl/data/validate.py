"""`docvl validate`: check every pair of a page set and say exactly what is wrong, sample by sample.

Each pair is checked in a worker process (PDFium is not thread-safe, and rendering is CPU-bound):
the PDF opens, is not encrypted, has one page of a sane size, renders; the Markdown is UTF-8, its front
matter parses strictly, and its body passes the training text rules (`docvl.data.text_rules`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docvl import render_guard
from docvl.config import DocvlConfig
from docvl.data.pageset import MANIFEST, Pair, find_pairs, manifest_row
from docvl.data.text_rules import check_text_rules
from docvl.errors import OutsidePathError, PageFormatError, PdfError
from docvl.io import atomic_write_text
from docvl.page import parse_page
from docvl.pdf import DEFAULT_LONGEST_SIDE, DEFAULT_MAX_PAGE_INCHES, PdfFile
from docvl.render_guard import RenderLimits
from docvl.system import process_pool, usable_cpus

CHECKS = (
    "manifest_row",
    "pair_complete",
    "pdf_opens",
    "pdf_not_encrypted",
    "pdf_page_count",
    "pdf_page_size",
    "pdf_renders",
    "md_utf8",
    "front_matter",
    "markdown_table",
    "html_table",
    "latex_table",
    "math_delimiters",
    "latex_renders",
    "latex_outside_math",
    "token_length",
)
TOKEN_STEPS = ("parse_front_matter", "render", "prompt", "front_matter_output", "tokenize")


@dataclass(frozen=True)
class Failure:
    path: str
    check: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "check": self.check, "message": self.message}


@dataclass(frozen=True)
class ValidateOptions:
    """What to check beyond the always-on checks. `tokens_with`: count tokens as training would, with this
    config's model processor, image size and prompt, and fail pairs longer than its `data.max_length`.
    `render_limits`: memory and time one page may take to render (a deflate bomb fails `pdf_renders`)."""

    render_longest_side: int | None = DEFAULT_LONGEST_SIDE
    max_page_inches: float = DEFAULT_MAX_PAGE_INCHES
    render_limits: RenderLimits = RenderLimits()
    tokens_with: DocvlConfig | None = None

    def checks(self) -> tuple[str, ...]:
        """The checks these options run, in the fixed order (a report lists only those)."""
        skipped = {"pdf_renders"} if not self.render_longest_side else set()
        if self.tokens_with is None:
            skipped.add("token_length")
        return tuple(check for check in CHECKS if check not in skipped)


_token_pipelines: dict[int, Any] = {}  # one training pipeline per worker process and config


def _check_tokens(pair: Pair, config: DocvlConfig) -> list[Failure]:
    """The training pipeline's own tokenization of the pair, so the verdict matches what training will do."""
    from docvl.data.pipeline import Sample, SamplePipeline
    from docvl.models import registry

    pipeline = _token_pipelines.get(id(config))
    if pipeline is None:
        processor = registry.load_processor(registry.resolve_checkpoint(config.model.name_or_path), config.model)
        token_config = config.model_copy(
            update={"data": config.data.model_copy(update={"pipeline": list(TOKEN_STEPS)})}
        )
        pipeline = _token_pipelines[id(config)] = SamplePipeline(token_config, processor)
    sample = Sample(id=pair.key, pdf=pair.pdf, md=pair.md)
    if pipeline(sample) is not None:
        return []
    length = sample.notes.get("too_long")
    message = (
        f"{length} tokens > data.max_length {config.data.max_length} (training would drop it)"
        if length
        else "the training pipeline rejects this pair"
    )
    return [Failure(str(pair.md), "token_length", message)]


@dataclass
class ValidateReport:
    checked: int = 0
    failed_pairs: list[Pair] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    checks: tuple[str, ...] = CHECKS

    @property
    def failed(self) -> int:
        return len(self.failed_pairs)

    def counts(self) -> dict[str, int]:
        """Failures per check that ran, in the fixed check order (zeros included, so a table shows what ran)."""
        found = Counter(failure.check for failure in self.failures)
        return {check: found.get(check, 0) for check in self.checks}

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "passed": self.checked - self.failed,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "pages_per_s": round(self.checked / self.seconds, 2) if self.seconds else None,
            "counts": self.counts(),
            "failures": [failure.to_dict() for failure in self.failures],
        }


def _check_pdf(path: Path, options: ValidateOptions) -> list[Failure]:
    try:
        with PdfFile(path, max_page_inches=options.max_page_inches) as pdf:
            failures = []
            if pdf.encrypted:
                failures.append(Failure(str(path), "pdf_not_encrypted", "PDF is encrypted"))
            pdf.require_single_page()
            pdf.page_size(0)
        if options.render_longest_side:
            render_guard.check_renders(
                path, 0, options.render_longest_side, options.render_limits, options.max_page_inches
            )
        return failures
    except PdfError as exc:
        return [Failure(str(path), exc.check, exc.message)]


def _check_markdown(path: Path) -> list[Failure]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Failure(str(path), "md_utf8", f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})")]
    try:
        page = parse_page(text, strict=True)
    except PageFormatError as exc:
        return [Failure(str(path), "front_matter", exc.message)]
    return [Failure(str(path), check, message) for check, message in check_text_rules(page.text)]


def check_pair(pair: Pair, options: ValidateOptions) -> list[Failure]:
    """Every failure of one pair (empty list: the pair is good)."""
    if pair.error:
        return [Failure(pair.name, "manifest_row", pair.error)]
    failures: list[Failure] = []
    if pair.pdf is None:
        failures.append(Failure(pair.name, "pair_complete", "Markdown file has no PDF beside it"))
    else:
        failures.extend(_check_pdf(pair.pdf, options))
    if pair.md is None:
        if pair.labelled:
            failures.append(Failure(pair.name, "pair_complete", "PDF has no Markdown file beside it"))
    elif pair.md.exists():
        failures.extend(_check_markdown(pair.md))
    else:
        failures.append(Failure(str(pair.md), "pair_complete", "Markdown file listed in the manifest is missing"))
    if not failures and pair.md is not None and options.tokens_with is not None:
        failures.extend(_check_tokens(pair, options.tokens_with))
    return failures


def _check_chunk(args: tuple[list[Pair], ValidateOptions]) -> list[list[Failure]]:
    pairs, options = args
    return [check_pair(pair, options) for pair in pairs]


def validate_pageset(
    root: str | Path,
    options: ValidateOptions | None = None,
    jobs: int | None = None,
    progress: Any = None,
) -> ValidateReport:
    """Check every pair under `root`. `progress(n)` is called as pairs finish (for a progress bar)."""
    options = options or ValidateOptions()
    pairs = find_pairs(root)
    report = ValidateReport(checks=options.checks())
    started = time.perf_counter()
    jobs = jobs or usable_cpus()
    chunk = max(1, min(32, len(pairs) // (jobs * 4) or 1))
    chunks = [(pairs[i : i + chunk], options) for i in range(0, len(pairs), chunk)]

    def consume(chunk_pairs: list[Pair], results: list[list[Failure]]) -> None:
        for pair, failures in zip(chunk_pairs, results, strict=True):
            report.checked += 1
            if failures:
                report.failed_pairs.append(pair)
                report.failures.extend(failures)
        if progress:
            progress(len(chunk_pairs))

    if jobs == 1 or len(chunks) == 1:
        for args in chunks:
            consume(args[0], _check_chunk(args))
    else:
        with process_pool(jobs) as pool:
            for args, results in zip(chunks, pool.map(_check_chunk, chunks), strict=True):
                consume(args[0], results)
    report.seconds = time.perf_counter() - started
    return report


def quarantine(report: ValidateReport, root: str | Path, target: str | Path) -> list[Path]:
    """Move every failing pair out of the page set into `target`, keeping relative paths; never overwrite, and
    never move a file from outside the page set (manifest rows naming one are failures of their own)."""
    base, destination = Path(root), Path(target)
    moved = []
    for pair in report.failed_pairs:
        for path in (pair.pdf, pair.md):
            if path is None or not path.is_relative_to(base) or not os.path.lexists(path):
                continue
            dest = destination / path.relative_to(base)
            if dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), dest)
            moved.append(dest)
    _drop_from_manifest(base, {p for pair in report.failed_pairs for p in (pair.pdf, pair.md) if p is not None})
    return moved


def _drop_from_manifest(root: Path, gone: set[Path]) -> None:
    """A quarantined pair leaves the manifest too, so training and a second validate no longer look for it.
    Every other line stays as it was, unusable rows included (they are the user's to fix)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return
    lines = manifest.read_text(encoding="utf-8").split("\n")
    kept = [line for line in lines if not _names_any(root, line, gone)]
    if len(kept) != len(lines):
        atomic_write_text(manifest, "\n".join(kept))


def _names_any(root: Path, line: str, paths: set[Path]) -> bool:
    try:
        pair = manifest_row(root, line)
    except (ValueError, OutsidePathError):
        return False
    return pair.pdf in paths or pair.md in paths
