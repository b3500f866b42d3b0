"""The olmOCR-mix source, on tiny datasets built in both hub layouts from real fixture pages."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from olmocr_mix_fixture import BOOK, BOOK2, BROKEN, EDGAR, G_URL, H_URL, MISSING, SCI, build_mix_0225, build_mix_1025

from docvl.data import olmocr_mix
from docvl.data.sources import DocRef, SourcePage
from docvl.errors import UsageError
from docvl.page import parse_page

HEAD_EN = "---\nprimary_language: en\nis_rotation_valid: True\nrotation_correction: 0\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Decompressed tarballs go under the test's own directory, never ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "docvl" / "olmocr-mix"


@pytest.fixture
def mix_1025(tmp_path: Path, fixtures_dir: Path, cache: Path) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "olmOCR-mix-1025"
    root.mkdir()
    return root.resolve(), build_mix_1025(root, fixtures_dir)


def _ref(root: Path, cache: Path, doc_id: str, origin: str, subset: str, rows: list) -> DocRef:
    extra = {"root": str(root), "cache_dir": str(cache), "subset": subset, "rows": json.dumps(rows)}
    return DocRef("olmocr-mix", doc_id, origin, extra)


def _pages(root: Path) -> dict[str, list[SourcePage]]:
    return {ref.doc_id: olmocr_mix.load_doc(ref) for ref in olmocr_mix.list_docs(root)}


def test_list_docs_groups_rows_by_source_document(mix_1025, cache):
    root, _ = mix_1025
    train, evals, books = "00_documents_train.parquet", "00_documents_eval.parquet", "01_books_train.parquet"
    assert olmocr_mix.list_docs(root) == [
        _ref(root, cache, "00_documents-broken-573a0b318c44", BROKEN, "00_documents", [[train, 4]]),
        _ref(root, cache, "00_documents-edgar-fa51220f9388", EDGAR, "00_documents", [[train, 1], [train, 2]]),
        _ref(root, cache, "00_documents-missing-5fd60e901472", MISSING, "00_documents", [[train, 3]]),
        _ref(
            root,
            cache,
            "00_documents-sci-tables-75fd755f8783",
            SCI,
            "00_documents",
            [[evals, 0], [train, 0], [train, 5]],
        ),
        _ref(root, cache, "01_books-book1-226473be7afe", BOOK, "01_books", [[books, 0], [books, 1], [books, 2]]),
        _ref(root, cache, "01_books-book2-bcc689d2aa3a", BOOK2, "01_books", [[books, 4]]),
        # no URL: grouped by the row id without its "-<page>" suffix
        _ref(root, cache, "01_books-skinny-876de59ecbc6", "skinny", "01_books", [[books, 3]]),
    ]


def test_pages_of_one_document_come_from_both_splits_and_every_tarball(mix_1025):
    root, pdfs = mix_1025
    pages = _pages(root)["00_documents-sci-tables-75fd755f8783"]
    assert [(p.page_number, p.error, p.pdf) for p in pages] == [
        (1, None, pdfs["aaaa/sci-tables-1"]),
        (2, None, pdfs["aaaa/sci-tables-2"]),
        (3, None, pdfs["aaaa/sci-tables-3"]),  # the eval tarball is an uncompressed .tar
    ]
    assert [p.origin for p in pages] == [
        f"{root}/pdf_tarballs/00_documents_train_00000.tar.gz:aaaa/sci-tables-1.pdf",
        f"{root}/pdf_tarballs/00_documents_train_00001.tar.gz:aaaa/sci-tables-2.pdf",
        f"{root}/pdf_tarballs/00_documents_eval_00000.tar:aaaa/sci-tables-3.pdf",
    ]
    assert [p.markdown for p in pages] == [
        HEAD_EN + "is_table: True\nis_diagram: False\n---\n# Results\n\n<table><tr><td>1</td></tr></table>",
        # null language, null natural_text: a blank page, front matter alone
        "---\nprimary_language: null\nis_rotation_valid: True\nrotation_correction: 0\nis_table: False\n"
        "is_diagram: False\n---",
        HEAD_EN + "is_table: False\nis_diagram: True\n---\nFigure 3",
    ]


def test_front_matter_values_are_written_canonically(mix_1025):
    root, pdfs = mix_1025
    good = [p for p in _pages(root)["01_books-book1-226473be7afe"] if p.error is None]
    assert [(p.page_number, p.pdf) for p in good] == [(10, pdfs["book1-10"]), (11, pdfs["book1-11"])]
    norwegian, english = good[0].markdown, good[1].markdown
    assert norwegian == (
        "---\nprimary_language: no\nis_rotation_valid: False\nrotation_correction: 90\nis_table: False\n"
        "is_diagram: False\n---\nKapittel 1"
    )
    assert english == HEAD_EN + "is_table: False\nis_diagram: False\n---\nChapter 2\n"
    parsed = parse_page(norwegian)
    assert (parsed.front_matter.primary_language, parsed.front_matter.rotation_correction) == ("no", 90)
    assert parse_page(english).text == "Chapter 2\n"


def test_bad_rows_become_error_pages(mix_1025):
    root, _ = mix_1025
    errors = [
        (p.doc_id, p.page_number, p.check, p.error, p.origin)
        for pages in _pages(root).values()
        for p in pages
        if p.error
    ]
    tar_docs = f"{root}/pdf_tarballs/00_documents_train_00000.tar.gz"
    assert errors == [
        (
            "00_documents-broken-573a0b318c44",
            1,
            "pdf_opens",
            "not a PDF (an HTML file)",
            f"{tar_docs}:dddd/broken-1.pdf",
        ),
        (
            "00_documents-edgar-fa51220f9388",
            3,
            "front_matter",
            "front matter: 'rotation_correction' must be one of 0, 90, 180, 270 (got 45)",
            f"{root}/00_documents_train.parquet:bbbb/edgar-3",
        ),
        (
            "00_documents-missing-5fd60e901472",
            1,
            "source_missing_pdf",
            "cccc/missing-1.pdf is not in tarball 00_documents_train_00000.tar.gz",
            f"{root}/00_documents_train.parquet:cccc/missing-1",
        ),
        (
            "01_books-book1-226473be7afe",
            11,
            "source_duplicate_page",
            f"page 11 of this document is also at {root}/01_books_train.parquet:book1-11",
            f"{root}/01_books_train.parquet:book1-11-again",
        ),
        (
            "01_books-book2-bcc689d2aa3a",
            1,
            "front_matter",
            "front matter: 'is_table' must be True or False (got None)",
            f"{root}/01_books_train.parquet:book2-1",
        ),
        (
            "01_books-skinny-876de59ecbc6",
            1,
            "pdf_page_count",
            "expected 1 page, found 2",
            f"{root}/pdf_tarballs/01_books_train_00000.tar.gz:skinny-1.pdf",
        ),
    ]
    error_pages = [p for pages in _pages(root).values() for p in pages if p.error]
    assert all(p.pdf is None and p.markdown is None for p in error_pages)


def test_missing_and_corrupt_tarballs_fail_their_pages_only(mix_1025):
    root, pdfs = mix_1025
    (root / "pdf_tarballs" / "00_documents_eval_00000.tar").unlink()
    (root / "pdf_tarballs" / "00_documents_train_00001.tar.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 64)
    pages = _pages(root)["00_documents-sci-tables-75fd755f8783"]
    assert [(p.page_number, p.check) for p in pages] == [
        (1, None),
        (2, "source_missing_pdf"),
        (3, "source_missing_pdf"),
    ]
    assert pages[0].pdf == pdfs["aaaa/sci-tables-1"]
    assert pages[1].error.startswith("tarball 00_documents_train_00001.tar.gz cannot be read (")
    assert pages[2].error == "tarball 00_documents_eval_00000.tar does not exist"


def test_a_compressed_tarball_is_decompressed_and_indexed_once(mix_1025, cache):
    root, pdfs = mix_1025
    refs = {ref.doc_id: ref for ref in olmocr_mix.list_docs(root)}
    first = olmocr_mix.load_doc(refs["00_documents-edgar-fa51220f9388"])
    assert first[0].pdf == pdfs["bbbb/edgar-1"]
    assert [p.name.rsplit("-", 1)[0] for p in cache.glob("*.tar")] == ["00_documents_train_00000"]  # only it
    # the gzip source is no longer needed in this process: the index and the plain copy serve the next document
    (root / "pdf_tarballs" / "00_documents_train_00000.tar.gz").unlink()
    second = olmocr_mix.load_doc(refs["00_documents-broken-573a0b318c44"])
    assert second[0].check == "pdf_opens"  # its member was found and read, then refused as HTML


def test_load_doc_in_worker_processes_matches_serial(mix_1025):
    root, _ = mix_1025
    refs = olmocr_mix.list_docs(root)
    serial = [olmocr_mix.load_doc(ref) for ref in refs]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        parallel = list(pool.map(olmocr_mix.load_doc, refs))
    assert parallel == serial
    assert sum(1 for pages in parallel for p in pages if p.error is None) == 6


def test_older_release_layout_with_response_json(tmp_path, fixtures_dir, cache):
    root = tmp_path / "olmOCR-mix-0225"
    root.mkdir()
    pdfs = build_mix_0225(root, fixtures_dir)
    refs = olmocr_mix.list_docs(root)
    assert refs == [
        _ref(
            root,
            cache,
            "00_documents-5f1e0c-68bfb56e0b1a",
            G_URL,
            "00_documents",
            [["train-s2pdf.parquet", 0], ["train-s2pdf.parquet", 1]],
        ),
        _ref(root, cache, "01_books-iabook-540876d588a8", H_URL, "01_books", [["eval-iabooks.parquet", 0]]),
    ]
    doc, book = (olmocr_mix.load_doc(ref) for ref in refs)
    assert [(p.page_number, p.markdown, p.pdf, p.check) for p in doc] == [
        (1, HEAD_EN + "is_table: False\nis_diagram: False\n---\nDolma page", pdfs["5f1e0c-1"], None),
        (2, None, None, "front_matter"),
    ]
    assert doc[1].error.startswith("front matter: 'response' is not JSON (")
    assert doc[1].origin == f"{root}/train-s2pdf.parquet:5f1e0c-2"
    assert [(p.page_number, p.pdf, p.origin) for p in book] == [
        (4, pdfs["9b2d77-4"], f"{root}/pdf_tarballs/pdf_chunk_0001.tar.gz:9b2d77-4.pdf")
    ]


def test_hub_id_that_cannot_be_fetched_is_one_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        olmocr_mix.list_docs(Path("docvl-tests/no-such-dataset"))
    message = str(caught.value)
    assert message.startswith("cannot download dataset 'docvl-tests/no-such-dataset' from the Hugging Face hub (")
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_paths_that_are_not_datasets_are_usage_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="source does not exist"):
        olmocr_mix.list_docs(Path("./missing-dir"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no olmOCR-mix label files here"):
        olmocr_mix.list_docs(tmp_path / "empty")


def test_a_null_page_number_is_page_1_of_a_one_page_document(tmp_path, fixtures_dir, cache):
    from olmocr_mix_fixture import _row_1025, labels, page_pdf, write_parquet, write_tarball

    root = tmp_path / "mix"
    tarball = "00_documents_train_00000.tar.gz"
    write_tarball(root / "pdf_tarballs" / tarball, {"solo.pdf": page_pdf(fixtures_dir, "edgar.pdf", 0)})
    row = _row_1025("solo", None, 1, tarball, labels("A single page"))
    write_parquet(root / "00_documents_train.parquet", [{**row, "page_number": None}])
    (ref,) = olmocr_mix.list_docs(root)
    (page,) = olmocr_mix.load_doc(ref)
    assert page.error is None and page.page_number == 1 and page.pdf and "A single page" in page.markdown


def test_the_split_rule_is_in_the_message(tmp_path):
    (tmp_path / "00_documents_validation.parquet").write_bytes(b"")
    with pytest.raises(UsageError, match="where {split} is train or eval"):
        olmocr_mix.list_docs(tmp_path)
