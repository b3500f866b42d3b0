"""Where a page's tests come from: a synthetic set's bench files (held-out and training pages), else the gold
Markdown; pages with neither have no gold, and bad bench records are reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from docvl.cli import app
from docvl.data.page_tests import PageTestSource
from docvl.data.pageset import find_pairs
from docvl.scoring.rewards import REWARDS, Completion
from docvl.scoring.testgen import generate_tests

runner = CliRunner()


def _synthetic_set(out: Path) -> None:
    args = ["prepare", "--kind", "synthetic", "--out", str(out), "--jobs", "1", "--eval-fraction", "0.5"]
    overrides = ["synthetic.pages=4", "synthetic.seed=3", "synthetic.header_footer_ratio=1", "synthetic.blank_ratio=0"]
    result = runner.invoke(app, [*args, *[a for o in overrides for a in ("--set", o)]])
    assert result.exit_code == 0, result.output


def test_synthetic_pages_get_their_written_tests_and_pass_them_on_gold(tmp_path: Path) -> None:
    _synthetic_set(tmp_path / "set")
    source = PageTestSource(tmp_path / "set")
    pairs = find_pairs(tmp_path / "set")
    assert {p.split for p in pairs} == {"train", "eval"}
    assert source.pages_with_tests == len(pairs) and source.problems == []
    written = {
        json.loads(line)["id"]
        for folder in ("bench", "tests")
        for line in (tmp_path / "set" / folder / "synthetic.jsonl").read_text().splitlines()
    }
    for pair in pairs:
        assert pair.pdf is not None and pair.md is not None
        gold = source.gold(pair.pdf, pair.md)
        assert gold is not None and gold.pdf == pair.pdf.relative_to(tmp_path / "set").as_posix()
        # The written tests, not regenerated ones: their ids are in the files, and the drawn header is absent.
        assert {t.id for t in gold.tests} <= written
        assert any(t.type == "absent" for t in gold.tests), pair.split
        assert gold.markdown == pair.md.read_text()
        assert REWARDS["unit_tests"](Completion(gold.markdown, True), gold) == 1.0


def test_without_bench_files_tests_come_from_the_gold_markdown(tmp_path: Path, fixtures_dir: Path) -> None:
    for stem in ("edgar", "blanktext"):
        for suffix in (".pdf", ".md"):
            shutil.copy(fixtures_dir / "pairs" / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    source = PageTestSource(tmp_path)
    assert source.pages_with_tests == 0
    gold = source.gold(tmp_path / "edgar.pdf", tmp_path / "edgar.md")
    assert gold is not None
    markdown = (tmp_path / "edgar.md").read_text()
    assert [t.id for t in gold.tests] == [r["id"] for r in generate_tests(markdown, "edgar.pdf")]
    # No tests and no gold text: no gold at all (the caller counts and skips the page).
    assert source.gold(tmp_path / "edgar.pdf", None) is None
    (tmp_path / "empty.md").write_text("")
    assert source.gold(tmp_path / "edgar.pdf", tmp_path / "empty.md") is None


def test_bench_tests_match_pages_by_content_and_bad_records_are_problems(tmp_path: Path, fixtures_dir: Path) -> None:
    bench = tmp_path / "olmocr-bench"
    (bench / "pdfs").mkdir(parents=True)
    shutil.copy(fixtures_dir / "pairs" / "edgar.pdf", bench / "pdfs" / "renamed.pdf")
    shutil.copy(fixtures_dir / "pairs" / "edgar.pdf", tmp_path / "edgar.pdf")
    test = {"pdf": "renamed.pdf", "page": 1, "id": "t1", "type": "absent", "text": "lorem", "max_diffs": 0}
    (bench / "page.jsonl").write_text(json.dumps(test) + "\n{not json\n")
    source = PageTestSource(tmp_path)
    assert source.problems == [
        f"{bench}/page.jsonl:2: malformed JSON (Expecting property name enclosed in double quotes at column 2)"
    ]
    gold = source.gold(tmp_path / "edgar.pdf", None)
    assert gold is not None and gold.markdown == ""
    # The JSONL's test plus the baseline test `docvl eval --bench` adds to a PDF without one.
    assert [t.id for t in gold.tests] == ["t1", "renamed.pdf_baseline"]
