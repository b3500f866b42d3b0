"""docvl's rewards (docvl.scoring.rewards) as TRL reward functions: one per named reward with a weight above 0.

TRL logs each function's mean under `rewards/<its __name__>/mean`, so each reward appears under its own name.
A reward that does not apply to a page (no tests, no gold front matter) returns None, which TRL leaves out of
the mean and of the weighted sum. A completion is finished when it ends in an end-of-sequence token (TRL cuts
completions after the first one), not at `grpo.max_completion_length`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

RewardFunc = Callable[..., list[float | None]]


class ScoringClock:
    """Seconds spent scoring since the last `take()` (the scoring share of a GRPO step)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def take(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def _text(completion: Any) -> str:
    """The reply text of a TRL completion: a string, or conversational [{role: assistant, content}]."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def reward_function(
    name: str, golds: Mapping[str, Any], eos_ids: Collection[int], clock: ScoringClock | None = None
) -> RewardFunc:
    """The TRL reward function of docvl reward `name`: one value (or None) per completion, judged against the gold
    of its row's `page`. `eos_ids` is read at each call (the trainer knows its ids only once it is built)."""
    from docvl.scoring.rewards import REWARDS, Completion

    reward = REWARDS[name]

    def score(completions: list[Any], completion_ids: list[list[int]], page: list[str], **_: Any) -> list:
        start = time.perf_counter()
        values = [
            reward(Completion(_text(completion), bool(ids) and ids[-1] in eos_ids), golds[pdf])
            for completion, ids, pdf in zip(completions, completion_ids, page, strict=True)
        ]
        if clock is not None:
            clock.seconds += time.perf_counter() - start
        return values

    score.__name__ = score.__qualname__ = name
    return score


def reward_functions(
    weights: Mapping[str, float], golds: Mapping[str, Any], eos_ids: Collection[int], clock: ScoringClock | None = None
) -> tuple[list[RewardFunc], list[float]]:
    """TRL reward functions and their weights, in the order of `weights`, for every reward weighted above 0."""
    used = [(name, weight) for name, weight in weights.items() if weight > 0]
    return [reward_function(name, golds, eos_ids, clock) for name, _ in used], [weight for _, weight in used]
