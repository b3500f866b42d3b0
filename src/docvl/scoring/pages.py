"""Page scores for held-out sets: one convert page result against its reference page, and set summaries.

Per page (`score_page`):

* edit distance: Levenshtein distance / longer length of the model's accepted reply body and the reference
  body, both through `normalize_text`. A page without an accepted reply (convert's text-layer fallback)
  counts as an empty output: the text layer must not flatter a model. Pooled per set: sum of distances over
  sum of longer lengths.
* front matter: per field, whether the accepted reply matches the reference. Rotation is judged on the page
  as given: the rotation convert already applied plus the last reply's correction.
* flags, from the attempts' typed outcomes: parse failure (a reply did not parse), repetition (a reply ended
  in degenerate repetition), truncated (a reply stopped at max tokens, where looping models end), empty (an
  accepted reply with an empty body for a reference with text), fallback (no accepted reply).
* TEDS of the first HTML table, for pages whose reference has one.

A set (`summarize`) reports the mean edit distance, the pooled one, accuracy per front-matter field over pages
with an accepted reply, the share of pages with each flag, mean TEDS, pages/s and output tokens/s, and the
pages with the largest edit distance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from docvl.errors import PageFormatError
from docvl.judge import Reason
from docvl.page import FIELD_NAMES, FrontMatter, Page, parse_page
from docvl.results import PageResult
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


def read_reference(md: Path | None) -> Page:
    """A pair's reference page, parsed strictly (PageFormatError / OSError when it cannot be used)."""
    if md is None:
        raise PageFormatError("the pair has no reference Markdown")
    return parse_page(md.read_text(encoding="utf-8"))


def effective_front_matter(front_matter: FrontMatter, rotation: int) -> FrontMatter:
    """The reply's front matter about the page as given, after convert turned it by `rotation` degrees."""
    correction = (rotation + front_matter.rotation_correction) % 360
    return FrontMatter(
        front_matter.primary_language,
        front_matter.is_rotation_valid and correction == 0,
        correction,
        front_matter.is_table,
        front_matter.is_diagram,
    )


def score_page(reference: Page, result: PageResult, pdf: str = "", md: str = "") -> PageScore:
    """Score one page's convert result against the reference page."""
    accepted = not result.fallback
    output = normalize_text(result.text) if accepted else ""
    expected = normalize_text(reference.text)
    front_matter = None
    if accepted and result.front_matter is not None:
        got = effective_front_matter(result.front_matter, result.rotation)
        front_matter = {
            name: getattr(got, attr) == getattr(reference.front_matter, attr) for name, attr in FIELDS.items()
        }
    flags = {
        "parse_failure": result.had(Reason.UNPARSEABLE),
        "repetition": result.had(Reason.REPETITION),
        "truncated": result.had(Reason.LENGTH),
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
        teds=teds(result.text if accepted else "", reference.text) if has_table else None,
        completion_tokens=result.completion_tokens,
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
