"""Claims that let several `convert` workers share one output folder, each document done once.

Before working on a document a worker takes an exclusive `flock` on `OUT/.docvl/claims/<key>.lock`. The
kernel drops the lock when its process dies, so a claim left by a killed worker is free again: a worker
that found a document taken retries it once its own work is done, and takes it over when the holder died
without finishing it. The claim file also says that docvl owns the document's Markdown: an existing
Markdown file without one was not written by docvl and is never replaced.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from docvl.results import STATE_DIR


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

    @property
    def held(self) -> bool:
        return self._fd is not None


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
