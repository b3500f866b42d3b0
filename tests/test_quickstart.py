"""The README's first command: `docvl quickstart` runs the whole loop for real, and a re-run reuses it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from docvl.io import read_jsonl


def _quickstart(workdir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "docvl", "quickstart", "--workdir", str(workdir), "--steps", "10", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_quickstart_end_to_end_then_reused(tmp_path: Path) -> None:
    first = _quickstart(tmp_path)
    stages = {stage["name"]: stage for stage in first["stages"]}
    assert list(stages) == ["prepare", "validate", "train", "eval", "serve", "convert", "stop"]
    assert stages["validate"]["summary"] == "8 of 8 pairs pass every check"
    assert "held-out: 2 pages" in stages["eval"]["summary"]
    # every stage left its real output behind
    assert len(read_jsonl(tmp_path / "pages" / "manifest.jsonl")) == 8
    for name in ("checkpoint-10", "final"):
        assert (tmp_path / "train" / name / "docvl.yaml").is_file()
        assert (tmp_path / "train" / name / "config.json").is_file()
    records = read_jsonl(tmp_path / "converted" / "results.jsonl")
    assert len(records) == 2
    assert sorted(p.name for p in (tmp_path / "converted").glob("*.md")) == ["small_page_size.md", "some_ocr1.md"]
    assert stages["stop"]["summary"] == "server stopped (exit code 0)"

    second = _quickstart(tmp_path)
    again = {stage["name"]: stage["summary"] for stage in second["stages"]}
    assert "(8 documents reused)" in again["prepare"]
    assert again["train"].startswith("reused ")
    assert "2 reused" in again["convert"]
    assert len(read_jsonl(tmp_path / "converted" / "results.jsonl")) == 2
