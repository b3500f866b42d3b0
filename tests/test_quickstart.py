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


def test_quickstart_data_ships_inside_the_package(tmp_path: Path) -> None:
    """A copy of the package alone (as a wheel installs it), run from elsewhere, finds its data and config."""
    import shutil

    import docvl

    site = tmp_path / "site"
    shutil.copytree(Path(docvl.__file__).parent, site / "docvl", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "from docvl.quickstart import examples_dir, tiny_config; from docvl.config import load_config; "
        "e = examples_dir(); print(e); print(tiny_config()); "
        "assert len(list((e / 'pairs').glob('*.md'))) == 8 and (e / 'pdfs' / 'some_ocr1.pdf').is_file(); "
        "load_config(tiny_config())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(Path(line).is_relative_to(site / "docvl") for line in done.stdout.split())
