"""Builders for the bad and odd PDFs the tests need, made at test time from real fixture pages."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium


def blank_pdf(pages: int = 1, width: float = 612, height: float = 792) -> bytes:
    """A PDF of `pages` empty pages of the given size in points (0 pages is allowed)."""
    doc = pdfium.PdfDocument.new()
    for _ in range(pages):
        doc.new_page(width, height)
    buffer = io.BytesIO()
    doc.save(buffer)
    doc.close()
    return buffer.getvalue()


def encrypted_pdf(source: Path, user_password: str = "secret") -> bytes:
    """`source` encrypted; with an empty user password it opens but still carries a security handler."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.append(str(source))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def truncated_pdf(source: Path) -> bytes:
    data = source.read_bytes()
    return data[: len(data) // 2]


HTML_AS_PDF = b"<!DOCTYPE html><html><body>Not found</body></html>\n"
