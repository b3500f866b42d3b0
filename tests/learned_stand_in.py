"""STAND-IN, grpo branch only: the session fixture `learned_reader` that the "learn" branch adds to
tests/conftest.py, with the same name and shape. At merge, delete this file and its import in tests/test_grpo.py.

It makes what the quickstart makes (docvl.quickstart.SyntheticRun): synthetic pages with a held-out split and
their unit tests, and the tiny model trained on them by configs/tiny-learn.yaml, with the real commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

STAGE_TIMEOUT_S = 1200


@dataclass(frozen=True)
class LearnedReader:
    checkpoint: Path  # the trained final checkpoint
    pages: Path  # the synthetic page set: train/ eval/ bench/


@pytest.fixture(scope="session")
def learned_reader(tmp_path_factory: pytest.TempPathFactory) -> LearnedReader:
    from docvl.quickstart import SyntheticRun

    run = SyntheticRun(tmp_path_factory.mktemp("learned"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    for args in (run.prepare_args(), run.train_args(run.workdir / "train")):
        done = subprocess.run(
            [sys.executable, "-m", "docvl", *args], capture_output=True, text=True, env=env, timeout=STAGE_TIMEOUT_S
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return LearnedReader(run.workdir / "train" / "final", run.pages)
