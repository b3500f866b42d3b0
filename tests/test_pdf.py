from pathlib import Path

import pytest
from pdf_factory import HTML_AS_PDF, blank_pdf, encrypted_pdf, truncated_pdf

from docvl.errors import (
    PdfCorruptError,
    PdfEmptyError,
    PdfEncryptedError,
    PdfError,
    PdfNotPdfError,
    PdfPageCountError,
    PdfPageSizeError,
    UsageError,
)
from docvl.pdf import PdfFile, page_count, parse_page_spec, render_page


def test_render_longest_side(fixtures_dir: Path) -> None:
    image = render_page(fixtures_dir / "pdfs" / "edgar.pdf", 0, 1288)
    assert image.size == (996, 1288)
    wide = render_page(fixtures_dir / "pdfs" / "skinnypage.pdf", 0, 500)
    assert max(wide.size) == 500 and wide.size[0] > wide.size[1]


def test_text_layer_and_count(fixtures_dir: Path) -> None:
    with PdfFile(fixtures_dir / "pdfs" / "edgar.pdf") as pdf:
        assert len(pdf) == 1
        assert "Edgar" in pdf.text(0)
    assert page_count(fixtures_dir / "pdfs" / "lots_of_sci_tables.pdf") == 6
    with PdfFile(fixtures_dir / "pdfs" / "edgar_image.pdf") as pdf:
        assert pdf.text(0).strip() == ""


def test_split_into_single_pages(fixtures_dir: Path) -> None:
    with PdfFile(fixtures_dir / "pdfs" / "lots_of_sci_tables.pdf") as pdf:
        pages = [pdf.page_pdf_bytes(i) for i in range(len(pdf))]
        texts = [pdf.text(i) for i in range(len(pdf))]
    for data, text in zip(pages, texts, strict=True):
        with PdfFile(data) as single:
            single.require_single_page()
            assert single.text(0) == text


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", PdfNotPdfError, "empty file (0 bytes)"),
        (HTML_AS_PDF, PdfNotPdfError, "not a PDF (an HTML file)"),
        (blank_pdf(0), PdfEmptyError, "zero pages"),
    ],
)
def test_bad_bytes(tmp_path: Path, data: bytes, error: type, message: str) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    with pytest.raises(error) as info:
        PdfFile(path)
    assert str(info.value) == f"{path}: {info.value.message}"
    assert message in info.value.message


def test_truncated_and_encrypted(fixtures_dir: Path) -> None:
    with pytest.raises(PdfCorruptError, match="truncated"):
        PdfFile(truncated_pdf(fixtures_dir / "pdfs" / "edgar.pdf"))
    with pytest.raises(PdfEncryptedError, match="needs a password"):
        PdfFile(encrypted_pdf(fixtures_dir / "pairs" / "edgar.pdf"))
    owner_only = encrypted_pdf(fixtures_dir / "pairs" / "edgar.pdf", user_password="")
    with PdfFile(owner_only) as pdf:
        assert pdf.encrypted
    with pytest.raises(PdfEncryptedError, match="security handler"):
        PdfFile(owner_only, allow_encrypted=False)


def test_multi_page_where_one_is_expected() -> None:
    with PdfFile(blank_pdf(100)) as pdf, pytest.raises(PdfPageCountError, match="expected 1 page, found 100"):
        pdf.require_single_page()


def test_absurd_page_is_refused_before_rendering() -> None:
    with PdfFile(blank_pdf(1, 14400, 720)) as pdf:
        with pytest.raises(PdfPageSizeError, match="200 inches"):
            pdf.render(0)
    with PdfFile(blank_pdf(1, 14400, 720), max_page_inches=300) as pdf:
        assert max(pdf.render(0, 256).size) == 256  # bounded by the target size, not the page size


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PdfError, match="does not exist"):
        PdfFile(tmp_path / "none.pdf")


def test_page_spec() -> None:
    assert parse_page_spec("1-3,7", 10) == [0, 1, 2, 6]
    assert parse_page_spec("9-20", 10) == [8, 9]
    with pytest.raises(UsageError):
        parse_page_spec("a-b", 3)
