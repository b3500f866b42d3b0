"""The training sample pipeline: a page pair becomes model inputs through an ordered list of small steps.

Each step is a class named in `data.pipeline` (None: `DEFAULT_PIPELINE`). A step returns the sample, changed,
or None to reject it; the pipeline counts rejections per step, so a bad page costs one sample, never a run.
Steps declare what they need and provide, and a pipeline whose order cannot work is a ConfigError at build
time (before any model is loaded), not a KeyError in a data-loader worker.

Samples longer than `data.max_length` are dropped and counted, never truncated: a truncated target teaches
the model never to stop.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from docvl.config import DocvlConfig
from docvl.errors import ConfigError, DocvlError
from docvl.page import Page, parse_page, rotate_image, serialize_page

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_PIPELINE = (
    "parse_front_matter",
    "filter_rotated",
    "reformat_bold_italic",
    "text_rules",
    "render",
    "rotation_augment",
    "prompt",
    "front_matter_output",
    "tokenize",
)


@dataclass
class Sample:
    """One page on its way through the pipeline; each step fills in what it provides."""

    id: str  # the pair's key in its page set (docvl.data.pageset.Pair.key)
    pdf: Path
    md: Path | None = None
    page: Page | None = None
    image: Image.Image | None = None
    prompt: str | None = None
    target: str | None = None
    encoded: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class Step:
    """A pipeline step. `needs`/`provides` name Sample fields, checked when the pipeline is built."""

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ()
    provides: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: DocvlConfig, processor: Any = None):
        self.config = config

    def __call__(self, sample: Sample) -> Sample | None:
        raise NotImplementedError


class ParseFrontMatter(Step):
    """Read the Markdown and parse it strictly (training data must follow the page format exactly)."""

    name = "parse_front_matter"
    provides = ("page",)

    def __call__(self, sample: Sample) -> Sample | None:
        if sample.md is None:
            return None
        try:
            sample.page = parse_page(sample.md.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, DocvlError) as exc:
            log.debug("%s: %s", sample.md, exc)
            return None
        return sample


class FilterRotated(Step):
    """Drop pages whose label says the page is rotated: in olmOCR-mix such a label is a model's guess and the
    text need not match the image turned upright. A page set whose turned pages are exact (`prepare --kind
    synthetic`: drawn turned, gold text upright) can leave this step out and train on them as they are, as
    configs/tiny-learn.yaml does; `rotation_augment` then composes its turn with theirs."""

    name = "filter_rotated"
    needs = ("page",)

    def __call__(self, sample: Sample) -> Sample | None:
        fm = sample.page.front_matter
        return sample if fm.is_rotation_valid and fm.rotation_correction == 0 else None


_STYLE = re.compile(r"\\(textbf|textit)\{")
_MARKERS = {"textbf": "**", "textit": "*"}


def _restyle(text: str) -> str:
    """`\\textbf{x}` -> `**x**` and `\\textit{x}` -> `*x*` (nesting allowed); unbalanced braces stay as they are."""
    out, pos = [], 0
    while (match := _STYLE.search(text, pos)) is not None:
        depth, end = 1, match.end()
        while end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        if depth:
            break
        marker = _MARKERS[match.group(1)]
        out += [text[pos : match.start()], marker, _restyle(text[match.end() : end - 1]), marker]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def reformat_bold_italic(text: str) -> str:
    """Markdown emphasis for LaTeX `\\textbf`/`\\textit` outside math (`latex.scan_math`'s spans); inside math
    they are valid LaTeX."""
    from docvl.latex import scan_math

    out, pos = [], 0
    for start, end, _, _ in scan_math(text).spans:
        out += [_restyle(text[pos:start]), text[start:end]]
        pos = end
    out.append(_restyle(text[pos:]))
    return "".join(out)


class ReformatBoldItalic(Step):
    name = "reformat_bold_italic"
    needs = ("page",)

    def __call__(self, sample: Sample) -> Sample | None:
        sample.page = replace(sample.page, text=reformat_bold_italic(sample.page.text))
        return sample


class TextRules(Step):
    """The text rules `docvl validate` reports (docvl.data.text_rules): a page that breaks one is no target."""

    name = "text_rules"
    needs = ("page",)

    def __call__(self, sample: Sample) -> Sample | None:
        from docvl.data.text_rules import check_text_rules

        problems = check_text_rules(sample.page.text)
        if problems:
            log.debug("%s: %s", sample.md, "; ".join(f"{check}: {message}" for check, message in problems))
            return None
        return sample


class Render(Step):
    """Render the page so its longest side is `data.target_longest_image_dim`, as inference will, within
    `data.render_memory_mb` and `data.render_timeout_s` (docvl.render_guard)."""

    name = "render"
    provides = ("image",)

    def __call__(self, sample: Sample) -> Sample | None:
        from docvl.rendering import RenderSettings

        try:
            sample.image = RenderSettings.from_config(self.config).render_pdf_page(sample.pdf)
        except DocvlError as exc:
            log.debug("%s", exc)
            return None
        return sample


class RotationAugment(Step):
    """With probability `data.rotation_augmentation_p`, turn the image by 90/180/270 degrees counter-clockwise
    and label it with the counter-clockwise correction that makes it upright again (olmOCR's convention). A page
    already labelled turned (kept when the pipeline leaves out `filter_rotated`, as for synthetic pages whose
    labels are exact) gets the two turns composed.

    The draw is seeded by (train.seed, sample id: the pair's place in its page set), not by a running
    generator or where the set lies on disk, so a resumed run, or one on a copy of the set, sees the same
    augmentation as an uninterrupted one.
    """

    name = "rotation_augment"
    needs = ("image", "page")

    def __call__(self, sample: Sample) -> Sample | None:
        rng = random.Random(f"{self.config.train.seed}/{sample.id}")
        if rng.random() >= self.config.data.rotation_augmentation_p:
            return sample
        turn = rng.choice((90, 180, 270))
        sample.image = rotate_image(sample.image, turn)
        correction = (sample.page.front_matter.rotation_correction + 360 - turn) % 360
        fm = replace(sample.page.front_matter, is_rotation_valid=correction == 0, rotation_correction=correction)
        sample.page = replace(sample.page, front_matter=fm)
        sample.notes["rotated"] = turn
        return sample


class Prompt(Step):
    """The one prompt text (docvl.prompts), the same one inference sends."""

    name = "prompt"
    provides = ("prompt",)

    def __call__(self, sample: Sample) -> Sample | None:
        from docvl.prompts import build_prompt

        sample.prompt = build_prompt(self.config.prompt)
        return sample


class FrontMatterOutput(Step):
    """The target text: the page in canonical form (front matter, then Markdown), as inference parses it."""

    name = "front_matter_output"
    needs = ("page",)
    provides = ("target",)

    def __call__(self, sample: Sample) -> Sample | None:
        sample.target = serialize_page(sample.page)
        return sample


class Tokenize(Step):
    """Chat messages (image before or after the prompt per `data.image_first`) to input ids, with labels on the
    reply and its `<|im_end|>` only. Longer than `data.max_length`: dropped, never truncated."""

    name = "tokenize"
    needs = ("image", "prompt", "target")
    provides = ("encoded",)

    def __init__(self, config: DocvlConfig, processor: Any = None):
        super().__init__(config, processor)
        if processor is None:
            raise ConfigError("the 'tokenize' step needs the model's processor")
        self.processor = processor

    def __call__(self, sample: Sample) -> Sample | None:
        from docvl.models.messages import encode_training_sample

        try:
            encoded = encode_training_sample(
                self.processor, sample.image, sample.prompt, sample.target, image_first=self.config.data.image_first
            )
        except ValueError as exc:
            log.debug("%s: %s", sample.md, exc)
            return None
        length = len(encoded["input_ids"])
        if length > self.config.data.max_length:
            log.info("%s: %d tokens > data.max_length %d, dropped", sample.md, length, self.config.data.max_length)
            sample.notes["too_long"] = length
            return None
        sample.encoded = encoded
        return sample


STEPS: dict[str, type[Step]] = {
    cls.name: cls
    for cls in (
        ParseFrontMatter,
        FilterRotated,
        ReformatBoldItalic,
        TextRules,
        Render,
        RotationAugment,
        Prompt,
        FrontMatterOutput,
        Tokenize,
    )
}


def check_pipeline(names: list[str] | tuple[str, ...], ends_in: tuple[str, ...] = ("encoded",)) -> None:
    """Every name is a known step, every step's needs are provided by an earlier one, and the steps provide
    `ends_in` (model inputs for SFT; the image and prompt for GRPO, which generates its own targets); else
    ConfigError."""
    have: set[str] = set()
    for name in names:
        if name not in STEPS:
            raise ConfigError(f"unknown pipeline step '{name}'", hint=f"known steps: {', '.join(STEPS)}")
        missing = [need for need in STEPS[name].needs if need not in have]
        if missing:
            raise ConfigError(f"pipeline step '{name}' needs {', '.join(missing)}, which no earlier step provides")
        have.update(STEPS[name].provides)
    missing = [name for name in ends_in if name not in have]
    if missing == ["encoded"]:
        raise ConfigError("the pipeline must end in model inputs: add the 'tokenize' step")
    if missing:
        raise ConfigError(f"the pipeline provides no {', '.join(missing)}")


class SamplePipeline:
    """The configured steps (or `names`) in order. `rejected` counts rejections by step name ('too_long' for
    max_length)."""

    def __init__(
        self,
        config: DocvlConfig,
        processor: Any = None,
        *,
        names: tuple[str, ...] | None = None,
        ends_in: tuple[str, ...] = ("encoded",),
    ):
        names = names or tuple(config.data.pipeline or DEFAULT_PIPELINE)
        check_pipeline(names, ends_in)
        self.steps = [STEPS[name](config, processor) for name in names]
        self.rejected: Counter[str] = Counter()

    def __call__(self, sample: Sample) -> Sample | None:
        for step in self.steps:
            result = step(sample)
            if result is None:
                self.rejected["too_long" if "too_long" in sample.notes else step.name] += 1
                return None
            sample = result
        return sample
