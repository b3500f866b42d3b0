"""Does GRPO raise the held-out unit-test reward of the tiny reader? Measured with the real commands.

Scores CKPT on the held-out pages' unit tests with `docvl eval CKPT --bench PAGES/bench` (greedy, as eval
generates), trains `configs/tiny-grpo.yaml` from CKPT on PAGES' training pages for --steps steps with --seed,
scores the GRPO model the same way, and prints one JSON line:

- before / after: `docvl eval`'s mean per-page unit-test reward (the share of a page's tests passed, averaged
  over held-out pages) and its bench `overall` with the 95% interval eval reports;
- seeds: the GRPO run's train.seed and the synthetic pages' seed;
- seconds_per_step: mean generation / scoring / update seconds of a GRPO step, from the training log;
- reward_curve: the training log's rewards/unit_tests/mean per logged step (the training pages, sampled).

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/grpo_improvement.py CKPT PAGES [--steps 60] [--seed 42]
        [--work DIR] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

from docvl.config import find_saved_config

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "tiny-grpo.yaml"
STEP_PARTS = ("generation", "scoring", "update")


def docvl(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "docvl", *args], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"docvl {args[0]} failed: {done.stderr.strip().splitlines()[-3:]}")
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def heldout_reward(checkpoint: Path, pages: Path, work: Path) -> dict[str, float]:
    """`docvl eval --bench`: the mean over held-out pages of the share of their unit tests passed, and overall."""
    bench = docvl("eval", str(checkpoint), "--bench", str(pages / "bench"), "--work-dir", str(work), "--json")["bench"]
    by_page: dict[str, list[bool]] = defaultdict(list)
    for test in bench["tests"]:
        by_page[test["pdf"]].append(bool(test["pass"]))
    return {
        "unit_tests": mean(sum(results) / len(results) for results in by_page.values()),
        "overall": bench["overall"],
        "ci": [bench["ci_low"], bench["ci_high"]],
        "pages": len(by_page),
    }


def training_log(run: Path) -> list[dict[str, Any]]:
    """The logged steps of the GRPO run (its last checkpoint's trainer_state.json)."""
    states = sorted(run.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    return [entry for entry in json.loads(states[-1].read_text())["log_history"] if "loss" in entry]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("pages", type=Path)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="more config overrides")
    options = parser.parse_args(argv)
    work = options.work or Path(tempfile.mkdtemp(prefix="grpo-improvement-"))
    run = work / "grpo"
    before = heldout_reward(options.checkpoint, options.pages, work / "eval-before")
    docvl(
        "train",
        str(RECIPE),
        f"model.name_or_path={options.checkpoint}",
        f"data.train=[{{name: synthetic, path: '{options.pages}'}}]",
        f"train.output_dir={run}",
        f"train.max_steps={options.steps}",
        f"train.save_steps={options.steps}",
        f"train.seed={options.seed}",
        "train.logging_steps=1",
        *options.overrides,
        "--overwrite",
    )
    after = heldout_reward(run / "final", options.pages, work / "eval-after")
    steps = training_log(run)
    summary = {
        "before": before,
        "after": after,
        "gain": after["unit_tests"] - before["unit_tests"],
        "seeds": {"train.seed": options.seed, "synthetic.seed": find_saved_config(options.pages).synthetic.seed},
        "steps": options.steps,
        "overrides": options.overrides,
        "seconds_per_step": {
            part: mean(e[f"time/{part}"] for e in steps) for part in ("generation", "scoring", "update")
        },
        "reward_curve": [round(e["rewards/unit_tests/mean"], 3) for e in steps],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
