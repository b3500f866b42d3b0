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


def deflate_bomb_pdf(inflated_bytes: int, unit: bytes = b"0 0 1 1 re f\n") -> bytes:
    """A one-page letter PDF whose Flate content stream inflates to `inflated_bytes` of drawing operators.

    The file stays tiny (about 2 KB per inflated MB) while PDFium needs roughly 28 bytes of memory and 0.15 us
    per inflated byte to parse it: the shape of the deflate bombs that made `validate` take 188 s and 15.6 GB.
    """
    import zlib

    packer = zlib.compressobj(9)
    block = unit * ((1 << 20) // len(unit))
    stream = b"".join(packer.compress(block) for _ in range(0, inflated_bytes, len(block))) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
