"""GRPO's pages: what the model is shown (docvl's sample pipeline up to the prompt) and what it is judged against.

A GRPO row is the page image and the chat messages of docvl's one message builder (`page_messages`), so TRL's
chat template renders exactly the prompt SFT trained on and `serve` sends. The SFT pipeline's steps that make or
encode the gold reply (GRPO samples its own replies) or turn the page away from its gold (rotation augmentation)
are left out; the other configured steps run, and their rejections are counted as in SFT.

Pages with neither unit tests nor gold text have nothing to be rewarded against: they are counted and skipped
when the data is built, never rewarded as zero.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig
from docvl.data.dataset import PageSet
from docvl.data.pageset import Pair
from docvl.data.pipeline import DEFAULT_PIPELINE, Sample, SamplePipeline, check_pipeline
from docvl.errors import DataError

log = logging.getLogger(__name__)

# SFT steps GRPO leaves out: the gold reply and its tokens (GRPO samples its own), and rotation augmentation
# (its label would no longer be the page's gold).
NOT_FOR_GRPO = ("rotation_augment", "front_matter_output", "tokenize")
GRPO_NEEDS = ("image", "prompt")
# Rows kept after their first fetch: TRL asks for each page once per completion of its group.
_CACHED_ROWS = 64


def grpo_steps(config: DocvlConfig) -> tuple[str, ...]:
    """The configured pipeline without NOT_FOR_GRPO, checked to give an image and a prompt (else ConfigError)."""
    names = tuple(name for name in config.data.pipeline or DEFAULT_PIPELINE if name not in NOT_FOR_GRPO)
    check_pipeline(names, GRPO_NEEDS)
    return names


def with_gold(sets: list[PageSet], config: DocvlConfig) -> tuple[list[PageSet], dict[str, Any], int]:
    """The train sets with only pages that have unit tests or gold text, their golds by PDF path, and how many
    pages were skipped for having neither. DataError when no page is left."""
    from docvl.data.page_tests import PageTestSource

    kept_sets, golds, skipped = [], {}, 0
    for pageset, spec in zip(sets, config.data.train, strict=True):
        source = PageTestSource(Path(spec.path).expanduser())
        kept: list[Pair] = []
        for pair in pageset.pairs:
            gold = source.gold(pair.pdf, pair.md)
            if gold is None:
                skipped += 1
                log.info("%s: no unit tests and no gold text, skipped", pair.pdf)
                continue
            golds[str(pair.pdf)] = gold
            kept.append(pair)
        kept_sets.append(PageSet(pageset.name, kept, pageset.broken))  # every set stays, in step with its weight
    if not golds:
        raise DataError(f"no training page has unit tests or gold text to be rewarded against ({skipped} skipped)")
    return kept_sets, golds, skipped


class GrpoPages:
    """Rows {prompt, image, page} for TRL's GRPOTrainer (`page` keys the gold), made when TRL asks for them:
    `dataset()` is the HF Dataset TRL takes, an index column whose rows this class turns into pages.

    A page the pipeline rejects is replaced by the next page that passes (the same one for every completion of
    its group, so groups stay whole); `pipeline.rejected` counts the rejections by step, as in SFT.
    """

    def __init__(self, pairs: list[Pair], config: DocvlConfig):
        if not pairs:
            raise DataError("no training pages")
        self.pairs = pairs
        self.image_first = config.data.image_first
        self.pipeline = SamplePipeline(config, names=grpo_steps(config), ends_in=GRPO_NEEDS)
        self._rows: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._rejected: set[int] = set()

    def __len__(self) -> int:
        return len(self.pairs)

    def _row(self, index: int) -> dict[str, Any] | None:
        if index in self._rows:
            self._rows.move_to_end(index)
            return self._rows[index]
        if index in self._rejected:
            return None
        from docvl.models.messages import page_messages

        pair = self.pairs[index]
        sample = self.pipeline(Sample(id=pair.key, pdf=pair.pdf, md=pair.md))
        if sample is None:
            self._rejected.add(index)
            return None
        row = {
            "prompt": page_messages(None, sample.prompt, image_first=self.image_first),
            "image": sample.image,
            "page": str(pair.pdf),
        }
        self._rows[index] = row
        if len(self._rows) > _CACHED_ROWS:
            self._rows.popitem(last=False)
        return row

    def __getitem__(self, index: int) -> dict[str, Any]:
        for offset in range(len(self.pairs)):
            row = self._row((index + offset) % len(self.pairs))
            if row is not None:
                return row
        raise DataError(f"every training page was rejected by the sample pipeline: {dict(self.pipeline.rejected)}")

    def _rows_of(self, batch: dict[str, list[int]]) -> dict[str, list[Any]]:
        rows = [self[index] for index in batch["index"]]
        return {key: [row[key] for row in rows] for key in ("prompt", "image", "page")}

    def dataset(self) -> Any:
        """The HF Dataset of this class's rows (TRL accepts no other kind)."""
        from datasets import Dataset

        return Dataset.from_dict({"index": list(range(len(self.pairs)))}).with_transform(self._rows_of)
