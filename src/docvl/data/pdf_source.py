"""`prepare --kind pdfs`: PDFs of any page count, split into single-page PDFs (unlabelled pages)."""

from __future__ import annotations

from pathlib import Path

from docvl.data.sources import DocRef, SourcePage, doc_id_for
from docvl.errors import PdfError
from docvl.io import sha256_bytes
from docvl.pdf import PdfFile

KIND = "pdfs"


def list_docs(root: Path) -> list[DocRef]:
    """Every `*.pdf` below `root` (or `root` itself when it is a file)."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() == ".pdf")
    base = root.parent if root.is_file() else root
    return [DocRef(KIND, doc_id_for(path.relative_to(base)), str(path)) for path in files if path.is_file()]


def load_doc(ref: DocRef) -> list[SourcePage]:
    """One SourcePage per page; a PDF that cannot be opened gives one page carrying the error."""
    try:
        data = Path(ref.origin).read_bytes()
        digest = sha256_bytes(data)
        with PdfFile(data, name=ref.origin) as pdf:
            return [
                SourcePage(ref.doc_id, index + 1, ref.origin, pdf=pdf.page_pdf_bytes(index), source_sha256=digest)
                for index in range(len(pdf))
            ]
    except PdfError as exc:
        return [SourcePage(ref.doc_id, 1, ref.origin, error=exc.message, check=exc.check)]
    except OSError as exc:
        return [SourcePage(ref.doc_id, 1, ref.origin, error=f"cannot read file: {exc.strerror}", check="pdf_opens")]
