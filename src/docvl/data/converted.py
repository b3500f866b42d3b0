"""`prepare --kind converted`: `docvl convert` output back into training pairs (the loop back to training).

Each document's latest record in `results*.jsonl` (read through `docvl.results`) names its source file, the
source's sha256 and its pages; every page the model answered (not a text-layer fallback) becomes a pair: the
source page as a single-page PDF + the page's front matter and Markdown. A source that changed since
conversion is refused (its pages would not match the text). `list_docs` keeps only each record's file and
byte offset, so listing a large output costs no page text in the main process.
"""

from __future__ import annotations

import io
from pathlib import Path

from docvl.data.sources import DocRef, SourcePage, doc_id_for
from docvl.errors import PdfError
from docvl.io import sha256_bytes
from docvl.page import Page, serialize_page
from docvl.rendering import IMAGE_SUFFIXES
from docvl.results import DocStatus, ResultsError, latest_offsets, read_at

KIND = "converted"
_ACCEPTED = (DocStatus.OK, DocStatus.FAILED)  # "failed" documents still have good pages; error/empty have none


def list_docs(root: Path) -> list[DocRef]:
    """One DocRef per converted document that has pages (its latest such record wins)."""
    return [
        DocRef(KIND, doc_id_for(relpath), str(root / relpath), {"results": str(results), "offset": str(offset)})
        for relpath, (results, offset) in sorted(latest_offsets(root, _ACCEPTED).items())
    ]


def _page_pdfs(source: str, data: bytes, numbers: list[int]) -> dict[int, bytes]:
    """Single-page PDFs of the source's pages `numbers` (1-based); an image source becomes a one-page PDF."""
    from docvl.pdf import PdfFile

    if Path(source).suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        buffer = io.BytesIO()
        with Image.open(io.BytesIO(data)) as image:
            image.convert("RGB").save(buffer, "PDF")
        return {1: buffer.getvalue()}
    with PdfFile(data, name=source) as pdf:
        return {n: pdf.page_pdf_bytes(n - 1) for n in numbers}


def load_doc(ref: DocRef) -> list[SourcePage]:
    """The accepted pages of one converted document as pairs; one error page when the record or the source is
    unusable."""
    try:
        record = read_at(Path(ref.extra["results"]), int(ref.extra["offset"]))
    except ResultsError as exc:
        return [SourcePage(ref.doc_id, 1, ref.origin, error=str(exc), check="record")]
    source = record.source or ref.origin
    pages = [p for p in record.pages if not p.fallback and p.front_matter is not None]
    try:
        data = Path(source).read_bytes()
        if sha256_bytes(data) != record.sha256:
            return [SourcePage(ref.doc_id, 1, source, error="source changed since it was converted", check="source")]
        pdfs = _page_pdfs(source, data, [p.page for p in pages])
    except PdfError as exc:
        return [SourcePage(ref.doc_id, 1, source, error=exc.message, check=exc.check)]
    except OSError as exc:
        return [SourcePage(ref.doc_id, 1, source, error=f"cannot read source: {exc.strerror}", check="pdf_opens")]
    return [
        SourcePage(
            ref.doc_id,
            page.page,
            source,
            pdf=pdfs[page.page],
            markdown=serialize_page(Page(page.front_matter, page.text)),  # type: ignore[arg-type]
            source_sha256=record.sha256,
        )
        for page in pages
    ]
