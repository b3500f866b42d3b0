"""Training and eval datasets: named page sets, mixed by weight, each item run through the sample pipeline.

Broken pairs (a PDF without its Markdown or the reverse) are found when the dataset is built and reported;
training goes on with the good ones. Pages that fail later (bad front matter, unrenderable PDF, too long)
come out of `__getitem__` as None, which the collator drops.

Mixing: a set's `weight` is how many times each of its pages appears per epoch: 2 = every page twice,
0.5 = a seeded half of its pages. Deterministic for `train.seed`, so a resumed run sees the same epoch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docvl.config import DatasetSpec, DocvlConfig
from docvl.data.pageset import Pair, find_pairs
from docvl.data.pipeline import Sample, SamplePipeline
from docvl.errors import DataError, DocvlError, UsageError

if TYPE_CHECKING:
    from docvl.models.registry import ModelFamily


@dataclass
class PageSet:
    """The usable pairs of one named set, and the pairs that were not (with why)."""

    name: str
    pairs: list[Pair]
    broken: list[tuple[str, str]] = field(default_factory=list)


def load_pageset(spec: DatasetSpec, split: str) -> PageSet:
    """The pairs of `spec.path` for `split` (all pairs when the page set has no splits)."""
    path = Path(spec.path).expanduser()
    if not path.exists():
        raise UsageError(f"dataset '{spec.name}' does not exist", path, "check data.train / data.eval paths")
    pairs = find_pairs(path)
    if any(pair.split for pair in pairs):
        pairs = [pair for pair in pairs if pair.split == split or pair.error]
    good, broken = [], []
    for pair in pairs:
        if pair.error:
            broken.append((pair.name, pair.error))
        elif pair.pdf is None or not pair.pdf.is_file():
            broken.append((pair.name, "PDF missing"))
        elif pair.md is None or not pair.md.is_file():
            broken.append((pair.name, "Markdown missing"))
        else:
            good.append(pair)
    if not good:
        raise UsageError(f"dataset '{spec.name}' has no usable {split} pairs", path)
    return PageSet(spec.name, good, broken)


def mix(sets: list[PageSet], weights: list[float], seed: int) -> list[Pair]:
    """One epoch's pairs: each set repeated `weight` times, the fractional part a seeded subset."""
    rng = random.Random(seed)
    mixed: list[Pair] = []
    for pageset, weight in zip(sets, weights, strict=True):
        whole, fraction = divmod(weight, 1.0)
        mixed += pageset.pairs * int(whole)
        mixed += rng.sample(pageset.pairs, round(fraction * len(pageset.pairs)))
    return mixed


class PageDataset:
    """A map-style dataset of pairs; item i is the pipeline's model inputs for pair i, or None if rejected."""

    def __init__(self, pairs: list[Pair], pipeline: SamplePipeline):
        self.pairs = pairs
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        pair = self.pairs[index]
        sample = self.pipeline(Sample(id=pair.key, pdf=pair.pdf, md=pair.md))
        return None if sample is None else sample.encoded

    def length_estimates(self, family: ModelFamily, config: DocvlConfig) -> list[int]:
        """Cheap per-item token estimates for length grouping, without running the pipeline: the family's image
        tokens for the page's size at the render size, plus the Markdown's bytes / 4. Both spread widely in real
        data (skinny pages cost a fraction of a letter page's image tokens)."""
        from docvl.pdf import PdfFile

        longest_side, model = config.data.target_longest_image_dim, config.model
        estimates = []
        for pair in self.pairs:
            try:
                with PdfFile(pair.pdf) as pdf:
                    width, height = pdf.page_size(0)
                scale = longest_side / max(width, height)
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                image = family.image_tokens(*size, model.min_pixels, model.max_pixels)
            except DocvlError:
                image = 0  # rejected later by the pipeline; its place in the order does not matter
            estimates.append(int(image) + pair.md.stat().st_size // 4)
        return estimates


PREFLIGHT_SAMPLES = 64
_REASONS = {
    "parse_front_matter": "Markdown unreadable or front matter invalid",
    "filter_rotated": "labelled rotated",
    "text_rules": "breaks a text rule",
    "render": "PDF does not render",
    "tokenize": "cannot be tokenized",
}


def require_usable_sample(pairs: list[Pair], pipeline: SamplePipeline, config: DocvlConfig) -> None:
    """Run up to PREFLIGHT_SAMPLES pairs (a seeded pick) through `pipeline` until one is accepted; when none is,
    raise DataError with the rejections counted by reason, so a run whose every sample would be dropped fails
    before training instead of "training" on nothing and exporting an untrained model."""
    picked = random.Random(config.train.seed).sample(pairs, min(PREFLIGHT_SAMPLES, len(pairs)))
    examples: dict[str, str] = {}
    for pair in picked:
        before = dict(pipeline.rejected)
        if pipeline(Sample(id=pair.key, pdf=pair.pdf, md=pair.md)) is not None:
            return
        reason = next(step for step, count in pipeline.rejected.items() if count != before.get(step, 0))
        examples.setdefault(reason, pair.name)
    reasons = {**_REASONS, "too_long": f"longer than data.max_length {config.data.max_length}"}
    counts = ", ".join(
        f"{step} {count} ({reasons.get(step, 'rejected')}, e.g. {examples[step]})"
        for step, count in pipeline.rejected.most_common()
    )
    checked = f"all {len(picked)}" if len(picked) == len(pairs) else f"the {len(picked)} of {len(pairs)} checked"
    raise DataError(
        f"no usable training sample: {checked} were rejected by the sample pipeline: {counts}",
        hint="`docvl validate PAGESET --tokens` says what is wrong pair by pair",
    )


def build_datasets(config: DocvlConfig) -> tuple[list[PageSet], list[PageSet]]:
    """The named train and eval page sets, checked to exist (UsageError otherwise); loads no model."""
    if not config.data.train:
        raise UsageError("no training data: set data.train to a list of {name, path, weight}")
    train = [load_pageset(spec, "train") for spec in config.data.train]
    evals = [load_pageset(spec, "eval") for spec in config.data.eval]
    return train, evals
