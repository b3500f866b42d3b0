"""`prepare --kind pairs`: existing pairs in the olmOCR layout (`x.pdf` + `x.md`, any depth), checked."""

from __future__ import annotations

from pathlib import Path

from docvl.data.sources import DocRef, SourcePage, doc_id_for
from docvl.errors import PageFormatError, PdfError
from docvl.io import sha256_bytes
from docvl.page import parse_page
from docvl.pdf import PdfFile

KIND = "pairs"


def list_docs(root: Path) -> list[DocRef]:
    """One document per Markdown file; its PDF is the same name with `.pdf` (checked in the worker)."""
    mds = sorted(p for p in root.rglob("*.md") if p.is_file() and not p.name.startswith("."))
    return [DocRef(KIND, doc_id_for(md.relative_to(root)), str(md)) for md in mds]


def load_doc(ref: DocRef) -> list[SourcePage]:
    """The pair as one page: the PDF must open with one page and the front matter must parse strictly."""
    md = Path(ref.origin)
    pdf_path = md.with_suffix(".pdf")
    page = SourcePage(ref.doc_id, 1, ref.origin)
    if not pdf_path.exists():
        page.error, page.check = "Markdown file has no PDF beside it", "pair_complete"
        return [page]
    try:
        text = md.read_bytes().decode("utf-8")
        parse_page(text, strict=True)
        data = pdf_path.read_bytes()
        with PdfFile(data, name=pdf_path) as pdf:
            pdf.require_single_page()
            pdf.page_size(0)
    except UnicodeDecodeError:
        page.error, page.check = "not UTF-8", "md_utf8"
    except (PageFormatError, PdfError) as exc:
        page.error, page.check = exc.message, exc.check
        if isinstance(exc, PdfError):
            page.origin = str(pdf_path)
    else:
        page.pdf_path, page.markdown, page.source_sha256 = str(pdf_path), text, sha256_bytes(data)
    return [page]
