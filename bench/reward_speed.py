"""How fast are replies scored for reinforcement learning? Prints one line: replies (pages) scored per second.

    python bench/reward_speed.py [--pages 200] [--seed 0] [--weights unit_tests=1,front_matter=0.1,...]

It plans synthetic pages (the generator `prepare --kind synthetic` uses; nothing is rendered), makes their
tests as prepare does (generated from the gold Markdown, with the drawn header and page number as `absent`
tests), and times `score_rewards` on one reply per page, cycling through the replies a GRPO group holds: the
gold page, one missing a block, blocks out of order, a broken front matter, one cut off mid-page, one ending
in a loop. The time per reply is what a GRPO step spends scoring each generation on one core.
"""

from __future__ import annotations

import argparse
import time

from docvl.config import SyntheticConfig
from docvl.data.synthetic_layout import plan_page
from docvl.page import parse_page, serialize_front_matter
from docvl.scoring.bench_tests import load_test
from docvl.scoring.rewards import REWARDS, Completion, PageGold, score_rewards
from docvl.scoring.testgen import generate_tests


def _replies(gold: str) -> list[Completion]:
    """Six replies to one page, from perfect to degenerate."""
    page = parse_page(gold)
    front, text = serialize_front_matter(page.front_matter) + "\n", page.text
    blocks = text.split("\n\n")
    return [
        Completion(gold, True),
        Completion(front + "\n\n".join(blocks[:-1]), True),
        Completion(front + "\n\n".join(reversed(blocks)), True),
        Completion(front.replace("rotation_correction: ", "rotation_correction: 4") + text, True),
        Completion(front + text[: len(text) // 2], False),
        Completion(front + text + " and so on" * 150, True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default="unit_tests=1,front_matter=0.1,eos=0.1,similarity=0.1")
    args = parser.parse_args()
    weights = {name: float(value) for name, _, value in (item.partition("=") for item in args.weights.split(","))}
    cfg = SyntheticConfig(pages=args.pages, seed=args.seed)
    work = []
    for index in range(args.pages):
        plan = plan_page(cfg, index)
        pdf = f"synthetic_{index:06d}.pdf"
        tests = tuple(load_test(r) for r in generate_tests(plan.markdown, pdf, absent=plan.furniture))
        gold = PageGold(pdf, plan.markdown, tests)
        work.append((_replies(plan.markdown)[index % 6], gold))
    started = time.perf_counter()
    totals = [score_rewards(weights, completion, gold).total for completion, gold in work]
    seconds = time.perf_counter() - started
    tests = sum(len(gold.tests) for _, gold in work)
    mean = sum(t for t in totals if t is not None) / max(1, sum(t is not None for t in totals))
    print(
        f"reward scoring: {len(work) / seconds:.0f} pages/s ({len(work)} replies, {tests} tests, "
        f"rewards {','.join(n for n in weights if n in REWARDS)}, mean total {mean:.3f}, {seconds:.2f} s, one core)"
    )


if __name__ == "__main__":
    main()
