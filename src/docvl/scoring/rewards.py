"""Rewards for reinforcement learning on pages: named functions of (reply, gold page) -> [0, 1] or None.

olmOCR 2's recipe: the main reward is the fraction of the page's olmOCR-bench unit tests that pass, with
smaller rewards for valid front matter and a clean end of sequence. Each reward here judges one thing, with
the code that judges it elsewhere in docvl, so a reward means what the matching eval number means:

* `unit_tests`: pass fraction of the page's tests, each run by `BenchTest.run` on the reply's body as
  `docvl eval --bench` runs it on a delivered page (a reply whose front matter does not parse is judged on its
  whole text: its content still counts, `front_matter` is what pays for the header). A reply cut at the token
  limit is judged on what it wrote. None when the page has no tests.
* `front_matter`: 0 when the reply's front matter does not parse as convert parses replies (lenient: missing
  fields take their defaults); else the fraction of the gold front matter's fields it equals. None when the gold
  has no front matter.
* `eos`: 1 when the reply finished (stop, not length) and its body does not end in degenerate repetition
  (`docvl.judge.is_degenerate`, convert's check, at convert's default threshold), else 0.
* `similarity`: 1 - normalized edit distance of the reply body against the gold body, both through
  `normalize_text` as held-out eval compares them. None without gold text.

`score_rewards` combines them with weights, renormalised over the rewards that apply to the page, so a page
without tests is not scored as if its tests had failed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from docvl.errors import ConfigError, PageFormatError
from docvl.judge import DEFAULT_REPETITION_MIN_CHARS, is_degenerate
from docvl.page import FIELD_NAMES, Page, parse_page
from docvl.scoring.bench_tests import BenchTest
from docvl.scoring.bench_tests import Page as TestedPage
from docvl.scoring.metrics import normalized_edit_distance
from docvl.scoring.normalize import normalize_text

__all__ = [
    "REWARDS",
    "Completion",
    "PageGold",
    "Reward",
    "RewardScores",
    "reward_name_problem",
    "score_rewards",
]


@dataclass(frozen=True)
class Completion:
    """One generated reply to a page."""

    text: str  # the reply as generated: front matter + Markdown
    finished: bool  # True: ended with its stop/end-of-turn token; False: cut at the token limit


@dataclass(frozen=True)
class PageGold:
    """What a page's replies are judged against."""

    pdf: str  # the page's id (path in its page set), for messages and logs
    markdown: str  # gold page.md text (front matter + body); "" when only tests exist
    tests: tuple[BenchTest, ...] = ()  # the page's olmOCR-bench unit tests


Reward = Callable[[Completion, PageGold], "float | None"]


@dataclass(frozen=True)
class RewardScores:
    """Each weighted reward's value (None: not applicable to the page) and their renormalised weighted mean.

    `total` is None when no reward with a positive weight applies to the page."""

    total: float | None
    parts: dict[str, float | None] = field(default_factory=dict)


def _parse_reply(text: str) -> Page | None:
    """The reply as convert parses it (lenient), or None when its front matter does not parse."""
    try:
        return parse_page(text, strict=False)
    except PageFormatError:
        return None


def _reply_body(text: str) -> str:
    """The Markdown a reply delivers: its body when it parses, else its whole text."""
    page = _parse_reply(text)
    return page.text if page is not None else text.strip()


def _gold_page(gold: PageGold) -> Page | None:
    """The gold page parsed, or None when there is no gold text or it has no front matter."""
    if not gold.markdown:
        return None
    try:
        return parse_page(gold.markdown, strict=False)
    except PageFormatError:
        return None


def unit_tests_reward(completion: Completion, gold: PageGold) -> float | None:
    """Fraction of the page's unit tests the reply's body passes."""
    if not gold.tests:
        return None
    page = TestedPage(_reply_body(completion.text))
    return sum(test.run(page)[0] for test in gold.tests) / len(gold.tests)


def front_matter_reward(completion: Completion, gold: PageGold) -> float | None:
    """0 for front matter that does not parse, else the fraction of gold front-matter fields it equals."""
    expected = _gold_page(gold)
    if expected is None:
        return None
    got = _parse_reply(completion.text)
    if got is None:
        return 0.0
    same = sum(getattr(got.front_matter, name) == getattr(expected.front_matter, name) for name in FIELD_NAMES)
    return same / len(FIELD_NAMES)


def eos_reward(completion: Completion, gold: PageGold) -> float | None:
    """1 for a reply that finished and does not end in degenerate repetition, else 0."""
    if not completion.finished:
        return 0.0
    return 0.0 if is_degenerate(_reply_body(completion.text), DEFAULT_REPETITION_MIN_CHARS) else 1.0


def similarity_reward(completion: Completion, gold: PageGold) -> float | None:
    """1 - normalized edit distance between the reply body and the gold body (normalized text)."""
    if not gold.markdown:
        return None
    expected = _gold_page(gold)
    gold_body = expected.text if expected is not None else gold.markdown.strip()
    output = normalize_text(_reply_body(completion.text))
    return 1.0 - normalized_edit_distance(output, normalize_text(gold_body))


REWARDS: Mapping[str, Reward] = {
    "unit_tests": unit_tests_reward,
    "front_matter": front_matter_reward,
    "eos": eos_reward,
    "similarity": similarity_reward,
}


def reward_name_problem(name: str) -> str | None:
    """None for a known reward name, else one line naming it, with a "did you mean" when one is close."""
    if name in REWARDS:
        return None
    close = difflib.get_close_matches(name, list(REWARDS), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(REWARDS)}"
    return f"unknown reward '{name}' ({hint})"


def score_rewards(weights: Mapping[str, float], completion: Completion, gold: PageGold) -> RewardScores:
    """Every weighted reward (weight 0 too, for logging) and their weighted mean over those that apply.

    ConfigError for an unknown reward name or a negative weight."""
    for name, weight in weights.items():
        problem = reward_name_problem(name)
        if problem is not None:
            raise ConfigError(problem)
        if weight < 0:
            raise ConfigError(f"reward '{name}' has a negative weight ({weight})")
    parts = {name: REWARDS[name](completion, gold) for name in weights}
    applicable = {name: value for name, value in parts.items() if value is not None and weights[name] > 0}
    weight_sum = sum(weights[name] for name in applicable)
    total = sum(weights[name] * value for name, value in applicable.items()) / weight_sum if weight_sum else None
    return RewardScores(total, parts)
