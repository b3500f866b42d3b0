"""PDF handling with pypdfium2: open with typed errors, split into single pages, render, extract text.

Every way a file can fail to be a usable PDF becomes a typed `PdfError` naming the file, checked before
pdfium allocates anything large: renders are scaled from the page size, so a 200-inch page costs no more
memory than a letter page, and pages beyond `max_page_inches` are refused outright.
PDFium is not thread-safe: use one `PdfFile` per process (the stages parallelise with processes).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docvl.config import DataConfig, field_default
from docvl.errors import (
    PdfCorruptError,
    PdfEmptyError,
    PdfEncryptedError,
    PdfError,
    PdfNotPdfError,
    PdfPageCountError,
    PdfPageSizeError,
    PdfRenderError,
    UsageError,
)

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_LONGEST_SIDE = field_default(DataConfig, "target_longest_image_dim")
DEFAULT_MAX_PAGE_INCHES = field_default(DataConfig, "max_page_inches")
POINTS_PER_INCH = 72.0
_HEADER_WINDOW = 1024
_TAIL_WINDOW = 4096
_ZERO_PAGES = re.compile(rb"/Type\s*/Pages\b[^>]*/Count\s+0\b|/Count\s+0\b[^>]*/Type\s*/Pages\b")


def _describe_start(data: bytes) -> str:
    start = data[:24].decode("latin-1").strip().replace("\n", " ")
    if start.lower().startswith(("<!doctype html", "<html")):
        return "an HTML file"
    return f"starts with {start[:16]!r}"


def check_pdf_bytes(data: bytes, path: str | Path) -> None:
    """Refuse what is no PDF before pdfium sees it: empty, wrong header, cut short."""
    if not data:
        raise PdfNotPdfError("empty file (0 bytes)", path)
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise PdfNotPdfError(f"not a PDF ({_describe_start(data)})", path)
    if b"%%EOF" not in data[-_TAIL_WINDOW:]:
        raise PdfCorruptError("truncated PDF (no %%EOF marker at the end of the file)", path)


def _read_ends(path: Path, name: str) -> bytes:
    """The head and tail of a file, enough for `check_pdf_bytes` without reading all of it."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEADER_WINDOW)
            size = handle.seek(0, 2)
            if size <= _HEADER_WINDOW + _TAIL_WINDOW:
                handle.seek(0)
                data = handle.read()
            else:
                handle.seek(size - _TAIL_WINDOW)
                data = head + handle.read()
    except FileNotFoundError:
        raise PdfError("file does not exist", name) from None
    except IsADirectoryError:
        raise PdfError("is a directory, not a PDF", name) from None
    except OSError as exc:
        raise PdfError(f"cannot read file: {exc.strerror}", name) from None
    check_pdf_bytes(data, name)
    return data


class PdfFile:
    """An open PDF. Use as a context manager; all page indices are 0-based."""

    def __init__(
        self,
        source: str | Path | bytes,
        *,
        name: str | Path | None = None,
        allow_encrypted: bool = True,
        max_page_inches: float = DEFAULT_MAX_PAGE_INCHES,
    ):
        self.path = str(name if name is not None else ("<bytes>" if isinstance(source, bytes) else source))
        if isinstance(source, bytes):
            data = source
            check_pdf_bytes(data, self.path)
        else:
            data = _read_ends(Path(source), self.path)  # pdfium reads the file itself, lazily
        self.max_page_inches = max_page_inches
        try:
            self._doc = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
        except pdfium.PdfiumError:
            # PDFium's last-error code is process-wide and can be stale, so the bytes decide what went wrong.
            if _ZERO_PAGES.search(data):
                raise PdfEmptyError("PDF has zero pages", self.path) from None
            if b"/Encrypt" in data:
                raise PdfEncryptedError("encrypted PDF (needs a password to open)", self.path) from None
            raise PdfCorruptError("corrupt PDF (PDFium cannot parse it)", self.path) from None
        self.encrypted = pdfium_c.FPDF_GetSecurityHandlerRevision(self._doc.raw) != -1
        if self.encrypted and not allow_encrypted:
            self.close()
            raise PdfEncryptedError("encrypted PDF (has a security handler)", self.path)
        if len(self._doc) == 0:
            self.close()
            raise PdfEmptyError("PDF has zero pages", self.path)

    def __enter__(self) -> PdfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        doc = getattr(self, "_doc", None)
        if doc is not None:
            doc.close()
            self._doc = None

    def __len__(self) -> int:
        return len(self._doc)

    def require_single_page(self) -> None:
        """A page set's PDF holds exactly one page."""
        if len(self) != 1:
            raise PdfPageCountError(f"expected 1 page, found {len(self)}", self.path)

    def page_size(self, index: int = 0, *, page_number: int | None = None) -> tuple[float, float]:
        """(width, height) in points, after checking it is a sane size. Errors name `page_number` when given
        (the page's number in the document it came from), else index + 1."""
        width, height = self._doc.get_page_size(index)  # from the page tree: the page is not loaded
        longest = max(width, height) / POINTS_PER_INCH
        number = page_number if page_number is not None else index + 1
        if width <= 0 or height <= 0:
            raise PdfPageSizeError(f"page {number} has no area ({width:.0f} x {height:.0f} pt)", self.path)
        if longest > self.max_page_inches:
            raise PdfPageSizeError(
                f"page {number} is {longest:.0f} inches on its longest side (limit {self.max_page_inches:g})",
                self.path,
            )
        return width, height

    def render(self, index: int = 0, longest_side: int = DEFAULT_LONGEST_SIDE) -> Image.Image:
        """The page as an RGB image whose longest side is `longest_side` pixels."""
        width, height = self.page_size(index)
        scale = longest_side / max(width, height)
        page = self._doc[index]
        try:
            bitmap = page.render(scale=scale)
            return bitmap.to_pil().convert("RGB")
        except pdfium.PdfiumError as exc:
            raise PdfRenderError(f"page {index + 1} does not render ({exc})", self.path) from None
        finally:
            page.close()

    def text(self, index: int = 0) -> str:
        """The page's text layer (empty for scans); used as the last-resort fallback at inference."""
        page = self._doc[index]
        try:
            textpage = page.get_textpage()
            try:
                return textpage.get_text_range()
            finally:
                textpage.close()
        finally:
            page.close()

    def page_pdf_bytes(self, index: int) -> bytes:
        """A new single-page PDF holding page `index` (not encrypted, whatever the source was)."""
        single = pdfium.PdfDocument.new()
        try:
            single.import_pages(self._doc, [index])
            buffer = io.BytesIO()
            single.save(buffer)
            return buffer.getvalue()
        except pdfium.PdfiumError as exc:
            raise PdfCorruptError(f"page {index + 1} cannot be copied ({exc})", self.path) from None
        finally:
            single.close()


def page_count(path: str | Path) -> int:
    """Number of pages, with the typed errors of `PdfFile`."""
    with PdfFile(path) as pdf:
        return len(pdf)


def render_page(source: str | Path | bytes, index: int = 0, longest_side: int = DEFAULT_LONGEST_SIDE) -> Image.Image:
    """Open, render one page, close: for callers that need a single image."""
    with PdfFile(source) as pdf:
        return pdf.render(index, longest_side)


def parse_page_spec(spec: str, count: int) -> list[int]:
    """`1-3,7` (1-based, inclusive) -> sorted 0-based indices within `count` pages."""
    wanted: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, sep, last = part.partition("-")
        try:
            start = int(first)
            end = int(last) if sep else start
        except ValueError:
            raise UsageError(f"page spec {spec!r} is not like '1-3,7'") from None
        wanted.update(range(max(start, 1), min(end, count) + 1))
    return sorted(page - 1 for page in wanted)
