"""Builds tiny olmOCR-mix datasets in the hub layouts at test time, from real fixture PDF pages.

`build_mix_1025` writes the olmOCR-mix-1025 layout (`{subset}_{split}.parquet` with label columns and
`pdf_relpath`, PDFs in `pdf_tarballs/{subset}_{split}_NNNNN.tar.gz`); `build_mix_0225` the older one
(`{split}-{name}.parquet` with a `response` JSON column, flat `pdf_tarballs/pdf_chunk_NNNN.tar.gz`). Parquet
files are written by pandas with `id` as the index, as the upstream scripts do. Both return the PDF bytes put in
the tarballs, by row id, so tests can compare what comes out with what went in.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd

from docvl.pdf import PdfFile

NOT_A_PDF = b"<html><body>404 Not Found</body></html>"


def page_pdf(fixtures_dir: Path, name: str, index: int) -> bytes:
    """Page `index` of a fixture PDF as a single-page PDF."""
    with PdfFile(fixtures_dir / "pdfs" / name) as pdf:
        return pdf.page_pdf_bytes(index)


def labels(
    text: str | None,
    language: str | None = "en",
    *,
    rotation_valid: bool | None = True,
    rotation: int = 0,
    table: bool | None = False,
    diagram: bool | None = False,
) -> dict[str, Any]:
    """The label fields of one row, as olmOCR-mix names them."""
    return {
        "primary_language": language,
        "is_rotation_valid": rotation_valid,
        "rotation_correction": rotation,
        "is_table": table,
        "is_diagram": diagram,
        "natural_text": text,
    }


def write_tarball(path: Path, members: dict[str, bytes]) -> None:
    """A tarball of `members` (gzip-compressed when the name ends in `.gz`, as the hub's are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows to parquet with `id` as the pandas index, like `repackage_olmocrmix.py`'s `df.to_parquet`."""
    frame = pd.DataFrame([{k: v for k, v in row.items() if k != "id"} for row in rows], index=[r["id"] for r in rows])
    frame.index.name = "id"
    frame.to_parquet(path)


def _row_1025(row_id: str, url: str | None, page: int, tarball: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row_id,
        "url": url,
        "page_number": page,
        "pdf_relpath": f"pdf_tarballs/{tarball}:{row_id}.pdf",
        **fields,
        "extras": None,
    }


SCI = "s3://ai2-s2-pdfs/aaaa/sci-tables.pdf"
EDGAR = "https://example.org/filings/edgar.pdf"
MISSING = "https://example.org/missing.pdf"
BROKEN = "https://example.org/broken.pdf"
BOOK = "https://archive.org/details/book1"
BOOK2 = "https://archive.org/details/book2"


def build_mix_1025(root: Path, fixtures_dir: Path) -> dict[str, bytes]:
    """Two subsets, seven source documents, one bad row of each kind.

    00_documents: `SCI` has pages 1-2 in train (two tarballs) and page 3 in eval (an uncompressed tarball);
    `EDGAR` page 1 is good, page 3 has rotation 45; `MISSING` names a member its tarball lacks; `BROKEN`'s
    member is an HTML page. 01_books: `BOOK` pages 10-11 (Norwegian `no`, rotated 90) plus a second row for page
    11; a row without URL whose member has two pages; `BOOK2` with a null `is_table`.
    """
    pdfs = {
        "aaaa/sci-tables-1": page_pdf(fixtures_dir, "lots_of_sci_tables.pdf", 0),
        "aaaa/sci-tables-2": page_pdf(fixtures_dir, "lots_of_sci_tables.pdf", 1),
        "aaaa/sci-tables-3": page_pdf(fixtures_dir, "lots_of_sci_tables.pdf", 2),
        "bbbb/edgar-1": page_pdf(fixtures_dir, "edgar.pdf", 0),
        "bbbb/edgar-3": page_pdf(fixtures_dir, "edgar-rotated90.pdf", 0),
        "dddd/broken-1": NOT_A_PDF,
        "book1-10": page_pdf(fixtures_dir, "large_prompt_hint2.pdf", 0),
        "book1-11": page_pdf(fixtures_dir, "large_prompt_hint2.pdf", 1),
        "book1-11-again": page_pdf(fixtures_dir, "large_prompt_hint2.pdf", 2),
        "skinny-1": (fixtures_dir / "pdfs" / "skinnypage.pdf").read_bytes(),
        "book2-1": page_pdf(fixtures_dir, "olmo-page-1.pdf", 0),
    }
    tarballs = {
        "00_documents_train_00000.tar.gz": ["aaaa/sci-tables-1", "bbbb/edgar-1", "bbbb/edgar-3", "dddd/broken-1"],
        "00_documents_train_00001.tar.gz": ["aaaa/sci-tables-2"],
        "00_documents_eval_00000.tar": ["aaaa/sci-tables-3"],
        "01_books_train_00000.tar.gz": ["book1-10", "book1-11", "book1-11-again", "skinny-1", "book2-1"],
    }
    for name, ids in tarballs.items():
        write_tarball(root / "pdf_tarballs" / name, {f"{i}.pdf": pdfs[i] for i in ids})
    docs_train = "00_documents_train_00000.tar.gz"
    books = "01_books_train_00000.tar.gz"
    write_parquet(
        root / "00_documents_train.parquet",
        [
            _row_1025(
                "aaaa/sci-tables-1",
                SCI,
                1,
                docs_train,
                labels("# Results\n\n<table><tr><td>1</td></tr></table>", table=True),
            ),
            _row_1025("bbbb/edgar-1", EDGAR, 1, docs_train, labels("FORM 10-K\n\nAnnual report")),
            _row_1025("bbbb/edgar-3", EDGAR, 3, docs_train, labels("Sideways", rotation=45)),
            _row_1025("cccc/missing-1", MISSING, 1, docs_train, labels("Lost page")),
            _row_1025("dddd/broken-1", BROKEN, 1, docs_train, labels("Error page")),
            _row_1025("aaaa/sci-tables-2", SCI, 2, "00_documents_train_00001.tar.gz", labels(None, None)),
        ],
    )
    write_parquet(
        root / "00_documents_eval.parquet",
        [_row_1025("aaaa/sci-tables-3", SCI, 3, "00_documents_eval_00000.tar", labels("Figure 3", diagram=True))],
    )
    write_parquet(
        root / "01_books_train.parquet",
        [
            _row_1025("book1-11", BOOK, 11, books, labels("Chapter 2\n", "en")),
            _row_1025("book1-10", BOOK, 10, books, labels("Kapittel 1", "no", rotation_valid=False, rotation=90)),
            _row_1025("book1-11-again", BOOK, 11, books, labels("Chapter 2, again")),
            _row_1025("skinny-1", None, 1, books, labels("Two pages in one")),
            _row_1025("book2-1", BOOK2, 1, books, labels("Unknown table flag", table=None)),
        ],
    )
    return pdfs


G_URL = "s3://ai2-s2-pdfs/5f1e/5f1e0c.pdf"
H_URL = "https://archive.org/details/iabook"


def build_mix_0225(root: Path, fixtures_dir: Path) -> dict[str, bytes]:
    """The older release: one document with a good page and a page whose `response` is not JSON; one book page
    whose PDF is in a different tarball than its parquet's other rows would suggest (all chunks are searched)."""
    pdfs = {
        "5f1e0c-1": page_pdf(fixtures_dir, "dolma-page-1.pdf", 0),
        "5f1e0c-2": page_pdf(fixtures_dir, "some_ocr1.pdf", 0),
        "9b2d77-4": page_pdf(fixtures_dir, "handwriting_bad_ocr.pdf", 0),
    }
    write_tarball(
        root / "pdf_tarballs" / "pdf_chunk_0000.tar.gz", {f"{i}.pdf": pdfs[i] for i in ("5f1e0c-1", "5f1e0c-2")}
    )
    write_tarball(root / "pdf_tarballs" / "pdf_chunk_0001.tar.gz", {"9b2d77-4.pdf": pdfs["9b2d77-4"]})
    write_parquet(
        root / "train-s2pdf.parquet",
        [
            {"id": "5f1e0c-2", "url": G_URL, "page_number": 2, "response": "{not json"},
            {"id": "5f1e0c-1", "url": G_URL, "page_number": 1, "response": json.dumps(labels("Dolma page"))},
        ],
    )
    write_parquet(
        root / "eval-iabooks.parquet",
        [{"id": "9b2d77-4", "url": H_URL, "page_number": 4, "response": json.dumps(labels("Dear Sir,", table=False))}],
    )
    return pdfs
