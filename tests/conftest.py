"""Shared test fixtures: the public fixture files in tests/fixtures, and a quiet, offline environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _offline_single_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two shared cores: threads make CPU steps up to 20x slower. No hub: everything is built offline."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """`tests/fixtures`: real public PDFs (`pdfs/`) and page pairs (`pairs/`). Read-only: copy to change."""
    return FIXTURES


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random Qwen2.5-VL and Qwen3-VL checkpoints (docvl.models.tiny), built once per session.

    DOCVL_TINY_CACHE points `tiny:<family>` at the same folders, in this process and in subprocesses.
    """
    from docvl.models.tiny import TINY_FAMILIES, resolve_tiny

    os.environ["DOCVL_TINY_CACHE"] = str(tmp_path_factory.mktemp("tiny"))
    return {family: resolve_tiny(f"tiny:{family}") for family in TINY_FAMILIES}


@dataclass(frozen=True)
class LearnedReader:
    """The tiny reader trained as the quickstart trains it: `checkpoint` (its final folder) and `pages` (the
    synthetic page set it learned from: train/, eval/ held out, bench/ with the unit tests of eval/)."""

    checkpoint: Path
    pages: Path


@pytest.fixture(scope="session")
def learned_reader(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoints: dict[str, Path]) -> LearnedReader:
    """`docvl prepare` and `docvl train` with the quickstart's own arguments (configs/tiny-learn.yaml, its pages
    and steps), once per session, so what tests measure is what the quickstart's user gets. About two minutes."""
    from docvl.quickstart import SyntheticRun

    run = SyntheticRun(tmp_path_factory.mktemp("learned"))
    train_dir = run.workdir / "train"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    for args in (run.prepare_args(), run.train_args(train_dir)):
        done = subprocess.run(
            [sys.executable, "-m", "docvl", *args], capture_output=True, text=True, env=env, timeout=900
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return LearnedReader(train_dir / "final", run.pages)
