"""Held-out page sets for `docvl eval`: which sets, and their pages generated through convert and scored.

Generation goes through `docvl.infer.convert.Converter`, so every page is rendered, prompted, retried on the
temperature schedule, re-asked when the model calls it rotated and judged exactly as `docvl convert` does;
only `convert.max_new_tokens` is replaced by `eval.max_new_tokens`. Pages are scored by
`docvl.scoring.pages` (edit distance, front matter, flags, TEDS); the teacher-forced loss is
`docvl.train.loss_eval`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from docvl.config import DatasetSpec, DocvlConfig
from docvl.data.dataset import PageSet, load_pageset
from docvl.data.pageset import Pair
from docvl.errors import DocvlError, UsageError
from docvl.page import Page
from docvl.results import latest
from docvl.scoring.pages import SetReport, read_reference, score_page, summarize


def eval_sets(config: DocvlConfig, named_dirs: list[str] | None) -> tuple[list[tuple[str, PageSet]], list[str]]:
    """The held-out sets: `NAME=DIR` arguments, else `data.eval`, else the eval split of `data.train`.

    A page set with train/eval splits contributes its eval split, one without splits all its pairs (as the
    trainer reads eval sets). Returns ((path, set) pairs, problems): broken pairs and unusable sets are
    problem lines.
    """
    if named_dirs:
        specs = []
        for text in named_dirs:
            name, sep, path = text.partition("=")
            if not sep or not name or not path:
                raise UsageError(f"--sets {text!r} is not NAME=DIR")
            specs.append(DatasetSpec(name=name, path=path))
    else:
        specs = list(config.data.eval or config.data.train)
    sets, problems = [], []
    for spec in specs:
        try:
            pageset = load_pageset(spec, "eval")
        except DocvlError as exc:
            problems.append(str(exc))
            continue
        problems += [f"{spec.name}: {name}: {why}" for name, why in pageset.broken]
        sets.append((spec.path, pageset))
    return sets, problems


def eval_generation_config(config: DocvlConfig) -> DocvlConfig:
    """The config eval generates with: convert's settings, with `eval.max_new_tokens` as the reply limit and no
    error budget (fallback pages are counted by the metrics, not reported as failed documents)."""
    convert = config.convert.model_copy(update={"max_new_tokens": config.eval.max_new_tokens, "max_page_errors": 2**31})
    return config.model_copy(update={"convert": convert})


def generate_set(
    engine: Any,
    config: DocvlConfig,
    path: str,
    pageset: PageSet,
    work_dir: Path,
    *,
    report: Callable[[str], None],
    on_page: Callable[[int, int], None] | None = None,
) -> SetReport:
    """Generate every page of `pageset` with `engine` (through convert) and score it."""
    from docvl.infer.convert import Converter
    from docvl.infer.inputs import InputDoc

    references: dict[str, tuple[Pair, Page]] = {}
    for index, pair in enumerate(pageset.pairs):
        try:
            references[f"{index:06d}.pdf"] = (pair, read_reference(pair.md))
        except (OSError, UnicodeDecodeError, DocvlError) as exc:
            report(f"{pageset.name}: {pair.md}: reference skipped ({exc})")
    docs = [InputDoc(str(pair.pdf), relpath, "pdf") for relpath, (pair, _) in references.items()]
    out = work_dir / pageset.name
    summary = Converter(engine, eval_generation_config(config), out, report=report, on_page=on_page).run(docs)
    records = latest(out, on_bad=report)
    scores = []
    for relpath, (pair, reference) in references.items():
        record = records.get(relpath)
        if not record or not record.pages:
            report(f"{pageset.name}: {pair.pdf}: no generation ({record.error if record else 'not converted'})")
            continue
        scores.append(score_page(reference, record.pages[0], str(pair.pdf), str(pair.md)))
    return summarize(SetReport(pageset.name, path), scores, summary.seconds, config.eval.worst_pages)
