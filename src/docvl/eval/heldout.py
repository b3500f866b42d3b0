"""Held-out page sets: teacher-forced loss as the trainer computes it, and generation metrics per page and set.

Generation goes through `docvl.infer.convert.Converter`, so every page is rendered, prompted, retried on the
temperature schedule, re-asked when the model calls it rotated and judged exactly as `docvl convert` does;
only `convert.max_new_tokens` is replaced by `eval.max_new_tokens`. The loss is `DocvlTrainer.evaluate` on
the training sample pipeline (same rendering, target and label masking), so it is the number the trainer
logs as `eval_<set>_loss` for the same weights.

Per page, from convert's page record (`score_page`):

* edit distance: Levenshtein distance / longer length of the model's accepted reply body and the reference
  body, both through `normalize_text`. A page without an accepted reply (convert's text-layer fallback)
  counts as an empty output: the text layer must not flatter a model. Pooled per set: sum of distances over
  sum of longer lengths.
* front matter: per field, whether the accepted reply matches the reference. Rotation is judged on the page
  as given: the rotation convert already applied plus the last reply's correction.
* flags: parse failure (a reply did not parse), repetition (a reply ended in degenerate repetition, convert's
  check), truncated (a reply stopped at max tokens, where looping models end), empty (an accepted reply
  with an empty body for a reference with text), fallback (no accepted reply).
* TEDS of the first HTML table, for pages whose reference has one.

A set reports the mean edit distance, the pooled one, accuracy per front-matter field over pages with an
accepted reply, the share of pages with each flag, mean TEDS, pages/s and output tokens/s (generation wall
time, retries and rendering included), and the `eval.worst_pages` pages with the largest edit distance.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from docvl.config import DatasetSpec, DocvlConfig
from docvl.data.dataset import PageSet, load_pageset
from docvl.data.pageset import Pair
from docvl.errors import DocvlError, UsageError
from docvl.page import FIELD_NAMES, FrontMatter, Page, parse_page
from docvl.scoring.metrics import normalized_edit_distance, pooled_edit_distance, teds
from docvl.scoring.normalize import normalize_text

# Report name -> front-matter field: language, rotation_valid, rotation_correction, table, diagram.
FIELDS = {name.removeprefix("primary_").removeprefix("is_"): name for name in FIELD_NAMES}
FLAGS = ("parse_failure", "repetition", "truncated", "empty", "fallback")
_HTML_TABLE = re.compile(r"<table\b", re.IGNORECASE)


@dataclass
class PageScore:
    """One page's verdicts; `front_matter` is None when the model gave no accepted reply."""

    pdf: str
    md: str
    edit_distance: float
    front_matter: dict[str, bool] | None
    flags: dict[str, bool]
    teds: float | None
    completion_tokens: int
    pair: tuple[str, str] = ("", "")  # normalized (output, reference), for the pooled distance


def effective_front_matter(front_matter: dict[str, Any], rotation: int) -> FrontMatter:
    """The reply's front matter about the page as given, after convert turned it by `rotation` degrees."""
    fm = FrontMatter(**front_matter)
    correction = (rotation + fm.rotation_correction) % 360
    return FrontMatter(
        fm.primary_language, fm.is_rotation_valid and correction == 0, correction, fm.is_table, fm.is_diagram
    )


def score_page(reference: Page, result: dict[str, Any], pdf: str = "", md: str = "") -> PageScore:
    """Score one page from its convert page record (`fallback`, `front_matter`, `text`, `rotation`,
    `reasons`, `completion_tokens`) against the reference page."""
    accepted = not result["fallback"]
    output = normalize_text(result["text"]) if accepted else ""
    expected = normalize_text(reference.text)
    front_matter = None
    if accepted and result.get("front_matter") is not None:
        got = effective_front_matter(result["front_matter"], int(result.get("rotation") or 0))
        front_matter = {
            name: getattr(got, attr) == getattr(reference.front_matter, attr) for name, attr in FIELDS.items()
        }
    reasons = [str(reason) for reason in result.get("reasons") or []]
    flags = {
        "parse_failure": any(reason.startswith("unparseable") for reason in reasons),
        "repetition": "degenerate repetition" in reasons,
        "truncated": "finish_reason length" in reasons,
        "empty": accepted and not output and bool(expected),
        "fallback": not accepted,
    }
    has_table = bool(_HTML_TABLE.search(reference.text))
    return PageScore(
        pdf=pdf,
        md=md,
        edit_distance=normalized_edit_distance(output, expected),
        front_matter=front_matter,
        flags=flags,
        teds=teds(result["text"] if accepted else "", reference.text) if has_table else None,
        completion_tokens=int(result.get("completion_tokens") or 0),
        pair=(output, expected),
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class SetReport:
    """Everything measured on one held-out set (None where nothing could be measured)."""

    name: str
    path: str
    pages: int = 0
    loss: float | None = None
    loss_skipped: int = 0
    edit_distance: float | None = None
    edit_distance_pooled: float | None = None
    front_matter: dict[str, float | None] = field(default_factory=dict)
    rates: dict[str, float | None] = field(default_factory=dict)
    teds: float | None = None
    teds_pages: int = 0
    pages_per_s: float | None = None
    tokens_per_s: float | None = None
    seconds: float = 0.0
    worst: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(report: SetReport, scores: list[PageScore], seconds: float, worst: int) -> SetReport:
    """Fill `report` with the set-level numbers of its page scores."""
    report.pages = len(scores)
    report.seconds = round(seconds, 3)
    if not scores:
        return report
    report.edit_distance = _mean([s.edit_distance for s in scores])
    report.edit_distance_pooled = pooled_edit_distance(s.pair for s in scores)
    answered = [s.front_matter for s in scores if s.front_matter is not None]
    report.front_matter = {name: _mean([float(fm[name]) for fm in answered]) for name in FIELDS}
    report.rates = {flag: _mean([float(s.flags[flag]) for s in scores]) for flag in FLAGS}
    tables = [s.teds for s in scores if s.teds is not None]
    report.teds, report.teds_pages = _mean(tables), len(tables)
    if seconds > 0:
        report.pages_per_s = len(scores) / seconds
        report.tokens_per_s = sum(s.completion_tokens for s in scores) / seconds
    ranked = sorted(scores, key=lambda s: s.edit_distance, reverse=True)[:worst]
    report.worst = [
        {"pdf": s.pdf, "md": s.md, "edit_distance": round(s.edit_distance, 4), "fallback": s.flags["fallback"]}
        for s in ranked
    ]
    return report


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


def read_reference(pair: Pair) -> Page:
    """The reference page of a pair, parsed strictly (PageFormatError / OSError when it cannot be used)."""
    assert pair.md is not None
    return parse_page(pair.md.read_text(encoding="utf-8"))


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
    from docvl.infer.convert import Converter, InputDoc, read_results

    references: dict[str, tuple[Pair, Page]] = {}
    for index, pair in enumerate(pageset.pairs):
        try:
            references[f"{index:06d}.pdf"] = (pair, read_reference(pair))
        except (OSError, UnicodeDecodeError, DocvlError) as exc:
            report(f"{pageset.name}: {pair.md}: reference skipped ({exc})")
    docs = [InputDoc(str(pair.pdf), relpath, "pdf") for relpath, (pair, _) in references.items()]
    out = work_dir / pageset.name
    summary = Converter(engine, eval_generation_config(config), out, report=report, on_page=on_page).run(docs)
    records = read_results(out)
    scores = []
    for relpath, (pair, reference) in references.items():
        record = records.get(relpath)
        if not record or not record.get("pages"):
            report(f"{pageset.name}: {pair.pdf}: no generation ({(record or {}).get('error', 'not converted')})")
            continue
        scores.append(score_page(reference, record["pages"][0], str(pair.pdf), str(pair.md)))
    return summarize(SetReport(pageset.name, path), scores, summary.seconds, config.eval.worst_pages)


def teacher_forced_losses(
    checkpoint: Path | str, config: DocvlConfig, sets: list[PageSet], work_dir: Path
) -> dict[str, tuple[float | None, int]]:
    """(loss, skipped samples) per set: `DocvlTrainer.evaluate` on the training sample pipeline."""
    import math

    from transformers.trainer_callback import ProgressCallback

    from docvl.data.dataset import PageDataset
    from docvl.data.pipeline import SamplePipeline
    from docvl.models import registry
    from docvl.train.collator import PageCollator
    from docvl.train.run import training_arguments
    from docvl.train.trainer import DocvlTrainer

    train = config.train.model_copy(
        update={"output_dir": str(work_dir / "trainer"), "report_to": [], "deepspeed": None}
    )
    args = training_arguments(config.model_copy(update={"train": train}), None, has_eval=False)
    processor = registry.load_processor(checkpoint, config.model)
    model = registry.load_model(checkpoint, config.model, bf16=config.train.bf16)
    trainer = DocvlTrainer(
        model=model, args=args, data_collator=PageCollator(processor.tokenizer.pad_token_id), processing_class=processor
    )
    trainer.remove_callback(ProgressCallback)
    losses: dict[str, tuple[float | None, int]] = {}
    try:
        for pageset in sets:
            prefix = f"eval_{pageset.name}"
            metrics = trainer.evaluate(
                PageDataset(pageset.pairs, SamplePipeline(config, processor)), metric_key_prefix=prefix
            )
            loss = metrics.get(f"{prefix}_loss")
            finite = loss is not None and math.isfinite(loss)
            losses[pageset.name] = (loss if finite else None, int(metrics.get("eval_skipped_samples", 0)))
    finally:
        del trainer, model
        _release_memory()
    return losses


def _release_memory() -> None:
    """Give the loss model's memory back before an engine (vLLM) claims the GPU."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
