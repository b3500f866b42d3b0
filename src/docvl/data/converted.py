"""`prepare --kind converted`: `docvl convert` output back into training pairs (the loop back to training).

Each document's latest record in `results*.jsonl` names its source file, the source's sha256 and its pages;
every page the model answered (not a text-layer fallback) becomes a pair: the source page as a single-page
PDF + the page's front matter and Markdown. A source that changed since conversion is refused (its pages
would not match the text). `list_docs` keeps only each record's file and byte offset, so listing a large
output costs no page text in the main process.

A results file is input like any other: a record whose paths leave their folders (`path` and `markdown` outside
the converted folder, a `source` that is not the file `path` names), or a page with a bad number or front matter,
is an error of that record or page, named by results file and line; the other records and pages go on.
"""

from __future__ import annotations

import difflib
import io
import os
import stat
from pathlib import Path
from typing import Any

from docvl.data.sources import DocRef, SourcePage, doc_id_for
from docvl.errors import OutsidePathError, PageFormatError, PdfError
from docvl.io import inside, sha256_bytes
from docvl.page import FIELD_NAMES, markdown_from_labels
from docvl.rendering import IMAGE_SUFFIXES
from docvl.results import DocStatus, latest_offsets, raw_at

KIND = "converted"
_ACCEPTED = (DocStatus.OK, DocStatus.FAILED)  # "failed" documents still have good pages; error/empty have none


def _origin(root: Path, relpath: str) -> str:
    """Where the record says its source came from, inside the converted folder (as convert names outputs)."""
    try:
        return str(inside(root, relpath))
    except OutsidePathError:
        return str(root / doc_id_for(relpath))  # a bad record still gets a listing; load_doc reports it


def list_docs(root: Path) -> list[DocRef]:
    """One DocRef per converted document that has pages (its latest record wins)."""
    return [
        DocRef(
            KIND,
            doc_id_for(relpath),
            _origin(root, relpath),
            {"root": str(root), "results": str(results), "offset": str(offset), "line": str(line)},
        )
        for relpath, (results, offset, line) in sorted(latest_offsets(root, _ACCEPTED).items())
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
        return {n: pdf.page_pdf_bytes(n - 1) for n in numbers if n <= len(pdf)}


def _source(root: Path, record: dict[str, Any]) -> str:
    """The source file a record was made from, checked before it is read (OutsidePathError otherwise).

    `path` (the input's name, relative to convert's input folder) and `markdown` must stay inside the converted
    folder as output names; `source` must be the absolute, normalised path of a regular file whose tail is
    `path`: the file the record names, not any file the results file would like read.
    """
    relpath, markdown, source = record.get("path"), record.get("markdown"), record.get("source")
    if not isinstance(relpath, str) or not isinstance(source, str):
        raise OutsidePathError("record has no 'path' and 'source' file names")
    for key, value in (("path", relpath), ("markdown", markdown)):
        if value is not None:
            try:
                inside(root, str(value))
            except OutsidePathError as exc:
                raise OutsidePathError(f"'{key}' {exc.message}") from None
    if "\x00" in source or not os.path.isabs(source) or os.path.normpath(source) != source:
        raise OutsidePathError(f"'source' {source!r} is not an absolute, normalised path")
    if not source.endswith(os.sep + os.path.normpath(relpath)):
        raise OutsidePathError(f"'source' {source!r} is not the file 'path' {relpath!r} names")
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            raise OutsidePathError(f"'source' {source!r} is not a regular file")
    except FileNotFoundError:
        pass  # reported as a missing source when it is read
    return source


def _check_front_matter(fields: Any) -> None:
    if not isinstance(fields, dict):
        raise PageFormatError(f"front matter: must be an object (got {type(fields).__name__})")
    for name in fields:
        if name not in FIELD_NAMES:
            close = difflib.get_close_matches(str(name), FIELD_NAMES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PageFormatError(f"front matter: unknown field '{name}'{hint}")


def _accepted_page(entry: Any) -> tuple[int, str] | None:
    """(page number, page Markdown) of one record page the model answered; None for a text-layer fallback."""
    if not isinstance(entry, dict):
        raise PageFormatError(f"page entry is not an object (got {type(entry).__name__})")
    if entry.get("fallback") or not entry.get("front_matter"):
        return None
    number = entry.get("page")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise PageFormatError(f"'page' {number!r} is not a page number")
    _check_front_matter(entry["front_matter"])
    text = entry.get("text")
    if text is not None and not isinstance(text, str):
        raise PageFormatError(f"page {number}: 'text' must be text (got {type(text).__name__})")
    return number, markdown_from_labels({**entry["front_matter"], "natural_text": text})


def load_doc(ref: DocRef) -> list[SourcePage]:
    """The accepted pages of one converted document as pairs; a bad page is that page's error, an unusable
    record or source one error page for the document."""
    where = f"{ref.extra['results']}:{ref.extra['line']}"
    try:
        record = raw_at(Path(ref.extra["results"]), int(ref.extra["offset"]))
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        source = _source(Path(ref.extra["root"]), record)
        entries = record.get("pages")
        if not isinstance(entries, list):
            raise ValueError("'pages' is not a list")
    except OutsidePathError as exc:
        return [SourcePage(ref.doc_id, 1, where, error=exc.message, check=exc.check)]
    except (OSError, ValueError) as exc:
        return [SourcePage(ref.doc_id, 1, where, error=f"unusable convert record ({exc})", check="source")]
    pages, out, seen = [], [], set()
    for position, entry in enumerate(entries, 1):
        try:
            accepted = _accepted_page(entry)
        except PageFormatError as exc:
            out.append(SourcePage(ref.doc_id, position, f"{where} page {position}", error=exc.message, check=exc.check))
            continue
        if accepted is None:
            continue
        if accepted[0] in seen:
            error = f"page {accepted[0]} appears twice in the record"
            out.append(SourcePage(ref.doc_id, accepted[0], where, error=error, check="source_duplicate_page"))
            continue
        seen.add(accepted[0])
        pages.append(accepted)
    try:
        data = Path(source).read_bytes()
        if sha256_bytes(data) != record.get("sha256"):
            return [SourcePage(ref.doc_id, 1, source, error="source changed since it was converted", check="source")]
        pdfs = _page_pdfs(source, data, [number for number, _ in pages])
    except PdfError as exc:
        return [SourcePage(ref.doc_id, 1, source, error=exc.message, check=exc.check)]
    except OSError as exc:
        return [SourcePage(ref.doc_id, 1, source, error=f"cannot read source: {exc.strerror}", check="pdf_opens")]
    for number, markdown in pages:
        if number not in pdfs:
            error = f"page {number} is not in the source ({source})"
            out.append(SourcePage(ref.doc_id, number, where, error=error, check="source_page_number"))
            continue
        out.append(
            SourcePage(ref.doc_id, number, source, pdf=pdfs[number], markdown=markdown, source_sha256=record["sha256"])
        )
    return sorted(out, key=lambda page: page.page_number)
