"""Typed errors. Library code raises these; only the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class DocvlError(Exception):
    """Base of every error docvl reports to a user. `exit_code` follows the CLI contract (1 failure, 2 usage)."""

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(DocvlError):
    """A config file, key, value or command-line override is wrong."""

    exit_code = 2


class UsageError(DocvlError):
    """A command was called in a way that cannot work (missing path, bad option combination)."""

    exit_code = 2


class WriteError(UsageError):
    """An output the user named cannot be written (permission, a file in the way, a read-only disk)."""


class DataError(DocvlError):
    """The data cannot be used for the work asked (every training sample rejected): exit 1, before any work."""


class OutsidePathError(DocvlError):
    """A path read from a file (manifest, results, dataset row) leaves the folder it must stay in."""

    check = "path_outside"


class PdfError(DocvlError):
    """A PDF cannot be used. `check` names the failed check in validate reports."""

    check = "pdf_opens"


class PdfNotPdfError(PdfError):
    check = "pdf_opens"


class PdfCorruptError(PdfError):
    check = "pdf_opens"


class PdfEncryptedError(PdfError):
    check = "pdf_not_encrypted"


class PdfEmptyError(PdfError):
    check = "pdf_page_count"


class PdfPageCountError(PdfError):
    check = "pdf_page_count"


class PdfPageSizeError(PdfError):
    check = "pdf_page_size"


class PdfRenderError(PdfError):
    check = "pdf_renders"


class PageFormatError(DocvlError):
    """Markdown with front matter does not follow the page format."""

    check = "front_matter"
