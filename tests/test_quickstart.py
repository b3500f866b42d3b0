"""The README's first command: `docvl quickstart` runs the whole loop for real, and a re-run reuses it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from docvl.io import read_jsonl


def _quickstart(workdir: Path, *flags: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "docvl", *flags, "quickstart", "--workdir", str(workdir), "--steps", "10", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FutureWarning" not in done.stderr and "Setting accelerator" not in done.stderr
    if not flags:  # the train stage shows the Trainer's progress instead of minutes of silence
        assert "10/10 [" in done.stderr
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
    failed = sum(record["status"] == "failed" for record in records)
    expected = f"{failed} of 2 documents failed" if failed else "all 2 documents done"
    assert expected in stages["convert"]["summary"]

    second = _quickstart(tmp_path, "-q")
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


def test_stage_progress_passes_through_and_results_still_parse(capsys: pytest.CaptureFixture[str]) -> None:
    from docvl.quickstart import _run

    code = "import sys; sys.stderr.write('step 3/10\\n'); print('{\"steps\": 10}')"
    result = _run("train", [sys.executable, "-c", code], lambda d: f"{d['steps']} steps", show_stderr=True)
    assert result.summary == "10 steps" and "step 3/10" in capsys.readouterr().err


def test_failed_documents_are_in_the_summary(tmp_path: Path) -> None:
    from docvl.quickstart import _failed_documents

    lines = [{"path": "a.pdf", "status": "failed"}, {"path": "b.pdf", "status": "ok"}]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert _failed_documents(tmp_path).startswith("1 of 2 documents failed")
