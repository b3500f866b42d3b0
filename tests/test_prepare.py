import json
import shutil
from pathlib import Path

import pytest
from pdf_factory import HTML_AS_PDF
from typer.testing import CliRunner

from docvl.cli import app
from docvl.config import load_config
from docvl.data.prepare import detect_kind, prepare, split_docs
from docvl.errors import UsageError
from docvl.io import read_jsonl
from docvl.pdf import PdfFile, page_count

runner = CliRunner()


def _copy(src: Path, dst: Path, names: list[str]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(src / name, dst / name)


def test_pdfs_are_split_by_document(fixtures_dir: Path, tmp_path: Path) -> None:
    names = ["edgar.pdf", "lots_of_sci_tables.pdf", "skinnypage.pdf", "olmo-page-1.pdf", "some_ocr1.pdf"]
    _copy(fixtures_dir / "pdfs", tmp_path / "src", names)
    out = tmp_path / "pages"
    summary = prepare([tmp_path / "src"], out, load_config(), eval_fraction=0.4, seed=3, jobs=2)
    expected_pages = sum(page_count(tmp_path / "src" / n) for n in names)
    # skinnypage.pdf's page 2 is 199 inches long: over data.max_page_inches, refused as validate would
    assert summary.pages == expected_pages - 1 == summary.train + summary.eval and summary.failed == 1
    records = read_jsonl(out / "manifest.jsonl")
    splits_by_doc: dict[str, set[str]] = {}
    for record in records:
        splits_by_doc.setdefault(record["doc_id"], set()).add(record["split"])
        assert record["md"] is None
        with PdfFile(out / record["pdf"]) as pdf:
            pdf.require_single_page()
    assert all(len(splits) == 1 for splits in splits_by_doc.values())
    assert sum(1 for s in splits_by_doc.values() if s == {"eval"}) == 2
    assert (out / "docvl.yaml").is_file()
    sci = [r for r in records if r["doc_id"] == "lots_of_sci_tables"]
    assert [r["page"] for r in sci] == [1, 2, 3, 4, 5, 6]
    assert sci[0]["id"] == "lots_of_sci_tables_p0001"


def test_split_is_deterministic_and_seeded() -> None:
    ids = [f"doc{i}" for i in range(50)]
    assert split_docs(ids, 0.2, 1) == split_docs(list(reversed(ids)), 0.2, 1)
    assert len(split_docs(ids, 0.2, 1)) == 10
    assert split_docs(ids, 0.2, 1) != split_docs(ids, 0.2, 2)
    assert split_docs(["one"], 0.5, 0) == set()


def test_rerun_skips_finished_work(fixtures_dir: Path, tmp_path: Path) -> None:
    _copy(fixtures_dir / "pdfs", tmp_path / "src", ["edgar.pdf", "some_ocr1.pdf"])
    out = tmp_path / "pages"
    first = prepare([tmp_path / "src"], out, load_config(), jobs=1)
    assert (first.pages, first.skipped_docs) == (2, 0)
    _copy(fixtures_dir / "pdfs", tmp_path / "src", ["olmo-page-1.pdf"])
    second = prepare([tmp_path / "src"], out, load_config(), jobs=1)
    assert (second.pages, second.skipped_docs) == (1, 2)
    assert len(read_jsonl(out / "manifest.jsonl")) == 3


def test_duplicates_and_bad_files_are_reported_not_fatal(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _copy(fixtures_dir / "pdfs", src, ["edgar.pdf"])
    shutil.copy(src / "edgar.pdf", src / "edgar_copy.pdf")
    (src / "broken.pdf").write_bytes(HTML_AS_PDF)
    (src / "empty.pdf").write_bytes(b"")
    result = runner.invoke(app, ["prepare", str(src), "--out", str(tmp_path / "pages"), "--json", "--jobs", "1"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert (data["pages"], data["duplicates"], data["failed"]) == (1, 1, 2)
    assert {Path(e["path"]).name for e in data["errors"]} == {"broken.pdf", "empty.pdf"}
    assert "not a PDF (an HTML file)" in result.stderr


def test_pairs_are_checked_and_copied_exactly(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pages"
    summary = prepare([fixtures_dir / "pairs"], out, load_config(), eval_fraction=0, jobs=1)
    assert (summary.pages, summary.failed) == (3, 0)
    for record in read_jsonl(out / "manifest.jsonl"):
        source = fixtures_dir / "pairs" / f"{record['doc_id']}.md"
        assert (out / record["md"]).read_text() == source.read_text()


def test_pairs_can_be_linked(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pages"
    prepare([fixtures_dir / "pairs"], out, load_config(), eval_fraction=0, jobs=1, link=True)
    assert (out / "train" / "edgar.pdf").is_symlink()


def test_bad_pairs_are_reported(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _copy(fixtures_dir / "pairs", src, ["edgar.pdf", "edgar.md"])
    (src / "orphan.md").write_text("---\n---\n")
    (src / "wrong.pdf").write_bytes((fixtures_dir / "pairs" / "edgar.pdf").read_bytes())
    (src / "wrong.md").write_text(
        (fixtures_dir / "pairs" / "edgar.md").read_text().replace("rotation_correction: 0", "rotation_correction: 45")
    )
    summary = prepare([src], tmp_path / "pages", load_config(), jobs=1)
    assert summary.pages == 1
    assert {(Path(e["path"]).name, e["check"]) for e in summary.errors} == {
        ("orphan.md", "pair_complete"),
        ("wrong.md", "front_matter"),
    }


def test_kind_detection(fixtures_dir: Path, tmp_path: Path) -> None:
    assert detect_kind(fixtures_dir / "pdfs") == "pdfs"
    assert detect_kind(fixtures_dir / "pairs") == "pairs"
    assert detect_kind(fixtures_dir / "pdfs" / "edgar.pdf") == "pdfs"
    with pytest.raises(UsageError, match="does not exist"):
        detect_kind(tmp_path / "missing")
    with pytest.raises(UsageError, match="holds no PDFs"):
        detect_kind(tmp_path)


def test_missing_source_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "source does not exist" in result.stderr


def test_same_pdf_labelled_and_unlabelled_keeps_the_labelled(fixtures_dir: Path, tmp_path: Path) -> None:
    _copy(fixtures_dir / "pdfs", tmp_path / "pdfs", ["edgar.pdf"])
    out = tmp_path / "pages"
    summary = prepare([tmp_path / "pdfs", fixtures_dir / "pairs"], out, load_config(), eval_fraction=0, jobs=1)
    assert (summary.pages, summary.duplicates) == (3, 1)
    edgar = [r for r in read_jsonl(out / "manifest.jsonl") if r["doc_id"].endswith("edgar")]
    assert [r["doc_id"] for r in edgar] == ["pairs__edgar"]
    assert (out / edgar[0]["pdf"]).is_file() and (out / edgar[0]["md"]).is_file()


def test_page_set_records_how_it_was_made(fixtures_dir: Path, tmp_path: Path) -> None:
    from docvl.config import PrepareConfig, find_saved_config

    out = tmp_path / "pages"
    result = runner.invoke(app, ["prepare", str(fixtures_dir / "pairs"), "--out", str(out), "--eval-fraction", "0.5",
                                 "--seed", "7", "--kind", "pairs", "--jobs", "1", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert find_saved_config(out).prepare == PrepareConfig(kind="pairs", eval_fraction=0.5, seed=7)
    bad = runner.invoke(app, ["prepare", str(fixtures_dir / "pairs"), "--out", str(out), "--eval-fraction", "1"])
    assert bad.exit_code == 2 and "--eval-fraction" in bad.stderr
    bad = runner.invoke(app, ["prepare", str(fixtures_dir / "pairs"), "--out", str(out), "--set",
                              "prepare.eval_fraction=1"])  # fmt: skip
    assert bad.exit_code == 2 and "prepare.eval_fraction" in bad.stderr


def test_page_size_rule_applies_where_the_page_enters(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    from docvl.data.validate import ValidateOptions, validate_pageset

    doc = pdfium.PdfDocument.new()
    doc.new_page(612, 792)
    doc.new_page(3.25 * 72, 198.5 * 72)  # a receipt roll: over data.max_page_inches (120)
    (tmp_path / "src").mkdir()
    doc.save(str(tmp_path / "src" / "roll.pdf"))
    doc.close()
    out = tmp_path / "pages"
    summary = prepare([tmp_path / "src"], out, load_config(), eval_fraction=0.0, jobs=1)
    assert summary.pages == 1 and summary.failed == 1
    (error,) = summary.errors
    assert error["check"] == "pdf_page_size" and error["path"] == str(tmp_path / "src" / "roll.pdf")
    assert error["message"] == "page 2 is 198 inches on its longest side (limit 120)"  # page 2 of the source
    assert validate_pageset(out, ValidateOptions(render_longest_side=None)).failed == 0  # prepare kept what passes


def test_an_empty_eval_split_is_a_warning(fixtures_dir: Path, tmp_path: Path) -> None:
    from docvl.data import pdf_source

    src = tmp_path / "src"
    _copy(fixtures_dir / "pdfs", src, ["edgar.pdf"])
    (src / "broken.pdf").write_bytes(HTML_AS_PDF)
    ids = {Path(ref.origin).name: ref.doc_id for ref in pdf_source.list_docs(src)}
    seed = next(s for s in range(100) if split_docs(sorted(ids.values()), 0.5, s) == {ids["broken.pdf"]})
    args = ["prepare", str(src), "--out", str(tmp_path / "pages"), "--eval-fraction", "0.5", "--seed", str(seed)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1  # the broken document failed: the one held out for eval
    assert f"warning {tmp_path / 'pages'} has no eval pages (--eval-fraction 0.5)" in result.stderr
