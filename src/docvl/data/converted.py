"""`prepare --kind converted`: `docvl convert` output back into training pairs (the loop back to training).

Each document's latest record in `results*.jsonl` names its source file, the source's sha256 and its pages;
every page the model answered (not a text-layer fallback) becomes a pair: the source page as a single-page
PDF + the page's front matter and Markdown. A source that changed since conversion is refused (its pages
would not match the text). `list_docs` keeps only each record's file and byte offset, so listing a large
output costs no page text in the main process.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from docvl.data.sources import DocRef, SourcePage, doc_id_for
from docvl.errors import PdfError
from docvl.io import sha256_bytes
from docvl.page import FrontMatter, Page, serialize_page
from docvl.rendering import IMAGE_SUFFIXES

KIND = "converted"
_ACCEPTED = ("ok", "failed")  # "failed" documents still have good pages; "error"/"empty" ones have none


def _latest_records(root: Path) -> dict[str, tuple[str, int, str]]:
    """relpath -> (results file, byte offset of its latest record, finished_at)."""
    latest: dict[str, tuple[str, int, str]] = {}
    for path in sorted(root.glob("results*.jsonl")):
        offset = 0
        with path.open("rb") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:  # a torn line from a killed writer
                    record = None
                if isinstance(record, dict) and record.get("status") in _ACCEPTED:
                    key, when = record.get("path", ""), record.get("finished_at", "")
                    if key not in latest or when >= latest[key][2]:
                        latest[key] = (str(path), offset, when)
                offset += len(line)
    return latest


def _read_record(ref: DocRef) -> dict[str, Any]:
    with open(ref.extra["results"], "rb") as handle:
        handle.seek(int(ref.extra["offset"]))
        return json.loads(handle.readline())


def list_docs(root: Path) -> list[DocRef]:
    """One DocRef per converted document that has pages (its latest record wins)."""
    return [
        DocRef(KIND, doc_id_for(relpath), str(root / relpath), {"results": results, "offset": str(offset)})
        for relpath, (results, offset, _) in sorted(_latest_records(root).items())
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
    """The accepted pages of one converted document as pairs; one error page when the source is unusable."""
    record = _read_record(ref)
    source = record.get("source") or ref.origin
    pages = [p for p in record.get("pages", []) if not p.get("fallback") and p.get("front_matter")]
    try:
        data = Path(source).read_bytes()
        if sha256_bytes(data) != record.get("sha256"):
            return [SourcePage(ref.doc_id, 1, source, error="source changed since it was converted", check="source")]
        pdfs = _page_pdfs(source, data, [p["page"] for p in pages])
    except PdfError as exc:
        return [SourcePage(ref.doc_id, 1, source, error=exc.message, check=exc.check)]
    except OSError as exc:
        return [SourcePage(ref.doc_id, 1, source, error=f"cannot read source: {exc.strerror}", check="pdf_opens")]
    digest = record["sha256"]
    return [
        SourcePage(
            ref.doc_id,
            page["page"],
            source,
            pdf=pdfs[page["page"]],
            markdown=serialize_page(Page(FrontMatter(**page["front_matter"]), page["text"])),
            source_sha256=digest,
        )
        for page in pages
    ]
