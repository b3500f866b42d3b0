"""Claims that let several `convert` workers share one output folder, each document done once.

Before working on a document a worker takes an exclusive `flock` on `OUT/.docvl/claims/<key>.lock`. The
kernel drops the lock when its process dies, so a claim left by a killed worker is free again: a worker
that found a document taken looks again once its own work is done (`Ledger.retry`), and takes it over when
the holder died without finishing it. The claim file also says that docvl owns the document's Markdown: an
existing Markdown file without one was not written by docvl and is never replaced.
"""

from __future__ import annotations

import fcntl
import os
from enum import StrEnum
from pathlib import Path

from docvl.infer.inputs import InputDoc
from docvl.results import STATE_DIR, done_keys, marker_path


def claim_path(out: Path, key: str) -> Path:
    return out / STATE_DIR / "claims" / f"{key}.lock"


class Claim:
    """An exclusive lock on one document's claim file, held until `release` (once)."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            raise RuntimeError("claim released twice")
        fd, self._fd = self._fd, None
        os.close(fd)


def try_claim(out: Path, key: str) -> Claim | None:
    """The document's claim, or None while another live worker holds it."""
    path = claim_path(out, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return Claim(fd)


class Admission(StrEnum):
    """What a worker may do with a document it comes to."""

    START = "start"
    TAKE_OVER = "take_over"  # another worker held it and died without finishing it
    DONE = "done"  # recorded before this run
    DONE_BY_OTHER = "done_by_other"  # another worker held it and finished it
    HELD = "held"  # another live worker holds it: look again later
    FOREIGN_OUTPUT = "foreign_output"  # its Markdown exists and docvl did not write it


class Ledger:
    """One worker's view of a shared output folder: what is done, and which documents others held."""

    def __init__(self, out: Path):
        self.out = out
        self.done = done_keys(out)
        self.held: dict[str, InputDoc] = {}

    def _marked(self, doc: InputDoc, digest: str) -> bool:
        marker = marker_path(self.out, doc.key)
        return marker.is_file() and marker.read_text(encoding="utf-8") == f"{doc.relpath}\n{digest}"

    def admit(self, doc: InputDoc, digest: str) -> tuple[Admission, Claim | None]:
        """The admission for `doc` (content `digest`) and, to START or TAKE_OVER, its claim."""
        was_held = self.held.pop(doc.key, None) is not None
        finished = Admission.DONE_BY_OTHER if was_held else Admission.DONE
        if (doc.relpath, digest) in self.done or self._marked(doc, digest):
            return finished, None
        if (self.out / doc.markdown_relpath).exists() and not claim_path(self.out, doc.key).exists():
            return Admission.FOREIGN_OUTPUT, None
        claim = try_claim(self.out, doc.key)
        if claim is None:
            self.held[doc.key] = doc
            return Admission.HELD, None
        if self._marked(doc, digest):  # finished by the worker that held it a moment ago
            claim.release()
            return finished, None
        return (Admission.TAKE_OVER if was_held else Admission.START), claim

    def retry(self) -> list[InputDoc]:
        """The documents others held, to be admitted again (with what is done read afresh)."""
        self.done = done_keys(self.out)
        return list(self.held.values())
