"""The README's first command: `docvl quickstart` runs the whole loop on synthetic pages for real, says honestly
whether its model reads, and a re-run reuses what is done."""

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
    from docvl.config import load_config
    from docvl.quickstart import CONVERT_DOCUMENTS, learn_config

    first = _quickstart(tmp_path)
    stages = {stage["name"]: stage for stage in first["stages"]}
    assert list(stages) == ["prepare", "validate", "train", "eval", "serve", "convert", "stop"]
    manifest = read_jsonl(tmp_path / "pages" / "manifest.jsonl")
    heldout = {Path(record["pdf"]).name for record in manifest if record["split"] == "eval"}
    assert len(manifest) == load_config(learn_config()).synthetic.pages and heldout
    assert stages["validate"]["summary"] == f"{len(manifest)} of {len(manifest)} pairs pass every check"
    for name in ("checkpoint-10", "final"):
        assert (tmp_path / "train" / name / "docvl.yaml").is_file()
    assert "tiny:qwen2_5_vl-reader" in (tmp_path / "train" / "final" / "docvl.yaml").read_text()

    # the eval report stays in the work dir: held-out pages and the unit tests prepare generated for them
    report = json.loads((tmp_path / "eval.json").read_text())
    assert first["eval_report"] == str(tmp_path / "eval.json")
    assert report["sets"]["heldout"]["pages"] == len(heldout)
    tests = report["bench"]["tests"]
    assert tests and {test["pdf"] for test in tests} <= heldout
    assert f"unit tests {sum(t['pass'] for t in tests)} of {len(tests)} pass" in stages["eval"]["summary"]

    # convert reads held-out PDFs only, through the server
    records = read_jsonl(tmp_path / "converted" / "results.jsonl")
    assert len(records) == min(CONVERT_DOCUMENTS, len(heldout)) and {r["path"] for r in records} <= heldout
    pages = [page for record in records for page in record["pages"]]
    own = sum(not page["fallback"] for page in pages)
    assert f"{own} of {len(pages)} pages from the model" in stages["convert"]["summary"]
    assert stages["stop"]["summary"] == "server stopped (exit code 0)"

    # the summary shows one page and says, in one line, whether the model reads (10 steps cannot)
    sample = first["sample"]
    assert sample["pdf"] in heldout and sample["markdown"].startswith("---\n") and sample["gold"].startswith("---\n")
    assert sample["from_model"] == bool(own)
    assert first["verdict"].startswith("the model does not read yet") and "\n" not in first["verdict"]

    second = _quickstart(tmp_path, "-q")
    again = {stage["name"]: stage for stage in second["stages"]}
    assert f"({len(manifest)} pages reused)" in again["prepare"]["summary"]
    assert again["train"]["reused"] and again["train"]["summary"].startswith("reused ")
    assert again["eval"]["reused"] and again["eval"]["summary"].startswith(f"reused {tmp_path / 'eval.json'}")
    assert f"({len(records)} reused)" in again["convert"]["summary"]
    assert second["verdict"] == first["verdict"]


def test_quickstart_data_ships_inside_the_package(tmp_path: Path) -> None:
    """A copy of the package alone (as a wheel installs it), run from elsewhere, finds its data and configs."""
    import shutil

    import docvl

    site = tmp_path / "site"
    shutil.copytree(Path(docvl.__file__).parent, site / "docvl", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "from docvl.quickstart import examples_dir, learn_config, tiny_config; from docvl.config import load_config; "
        "e = examples_dir(); print(e); print(tiny_config()); print(learn_config()); "
        "assert len(list((e / 'pairs').glob('*.md'))) == 8 and (e / 'pdfs' / 'some_ocr1.pdf').is_file(); "
        "load_config(tiny_config()); assert load_config(learn_config()).synthetic.pages > 0"
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


def _report(tmp_path: Path, edit_distance: float, passed: int, fell_back: tuple[str, ...] = ()) -> dict:
    """An eval report with 10 unit tests on a.pdf and b.pdf, `passed` of them passing, and the bench's convert
    results beside its outputs, where the pages of `fell_back` came from the text layer."""
    runs = tmp_path / "bench-runs" / "repeat1-0"
    runs.mkdir(parents=True)
    records = [
        {"path": pdf, "status": "ok", "finished_at": "2026-01-01T00:00:00+0000", "num_pages": 1,
         "pages": [{"page": 1, "fallback": pdf in fell_back, "text": "x", "rotation": 0}]}
        for pdf in ("a.pdf", "b.pdf")
    ]  # fmt: skip
    (runs / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    tests = [{"pdf": "ab"[i % 2] + ".pdf", "pass": i < passed} for i in range(10)]
    bench = {"overall": passed / 10, "tests": tests, "outputs": str(tmp_path / "bench")}
    return {"sets": {"heldout": {"edit_distance_pooled": edit_distance}}, "bench": bench}


def _page(text: str, fallback: bool = False) -> dict:
    return {"pdf": "p.pdf", "text": text, "fallback": fallback, "front_matter": {"primary_language": "en"}}


@pytest.mark.parametrize(
    ("report", "pages", "expected"),
    [
        ((0.05, 9), [_page("x", fallback=True)], "does not read yet: every converted page fell back"),
        (
            (0.74, 4),
            [_page("As."), _page("As.")],
            "does not read yet (1 different replies): held-out edit distance 0.74 (target <= 0.15), 40% of unit "
            "tests pass on its own replies (target >= 80%), 2 of 2 converted pages are its own (target >= 90%)",
        ),
        ((0.05, 9), [_page("a")] * 9 + [_page("b", fallback=True)], "reads these pages: held-out edit distance 0.05"),
        ((0.05, 9), [_page("a"), _page("b", fallback=True)], "does not read yet"),  # half its own
        ((0.05, 5), [_page("a")], "does not read yet"),
        # 9 of 10 tests pass, but those of b.pdf only on the text layer: 5 of 10 are the model's
        ((0.05, 9, ("b.pdf",)), [_page("a")], "50% of unit tests pass on its own replies"),
    ],
)
def test_the_verdict_says_whether_the_model_reads(tmp_path: Path, report: tuple, pages: list, expected: str) -> None:
    from docvl.quickstart import verdict

    assert expected in verdict(_report(tmp_path, *report), pages)


def test_without_the_evals_convert_results_the_own_share_is_unknown(tmp_path: Path) -> None:
    from docvl.quickstart import own_tests_passed, verdict

    report = _report(tmp_path, 0.05, 9)
    report["bench"]["outputs"] = str(tmp_path / "gone" / "bench")
    assert own_tests_passed(report) is None
    said = verdict(report, [_page("a")])
    assert "n/a of unit tests pass" in said and said.startswith("the model does not read yet")


def test_the_sample_is_a_page_the_model_wrote_whose_gold_has_text(tmp_path: Path) -> None:
    from docvl.quickstart import _sample_page

    (tmp_path / "eval").mkdir()
    head = "---\nprimary_language: en\nis_rotation_valid: True\nrotation_correction: 0\nis_table: False\n"
    (tmp_path / "eval" / "blank.md").write_text(head + "is_diagram: False\n---")
    (tmp_path / "eval" / "words.md").write_text(head + "is_diagram: False\n---\nThis for on.")
    pages = [
        {**_page("", fallback=False), "pdf": "blank.pdf"},
        {**_page("text layer", fallback=True), "pdf": "words.pdf"},
        {**_page("This for on."), "pdf": "words.pdf"},
    ]
    sample = _sample_page(pages, tmp_path)
    assert sample is not None and sample.from_model and sample.pdf == "words.pdf"
    assert sample.markdown.endswith("---\nThis for on.") and sample.gold.endswith("This for on.")
    assert _sample_page(pages[1:2], tmp_path).from_model is False  # nothing of its own: the fallback, labelled
    assert _sample_page([], tmp_path) is None
