"""`convert --out URL`: converting into an object store (S3, GCS, any fsspec URL), so a cluster needs no shared
file system for its output either.

An object store has no rename, no append and no lock; what it has is the put of one object, which is atomic. So
the run works exactly as into a local folder, in a local stage (claims, atomic writes, the results file, the
ledger: `docvl.infer.convert`), and the `RemoteOut` puts each document the stage finishes to the URL as whole
objects, in the order resume relies on: its Markdown, its record (`.docvl/records/<key>.json`, the record's JSON
line as an object: `docvl.results`), then its done marker. A run killed between two puts leaves no marker
without its Markdown and record.

Before a run, `sync`: what the stage finished but the URL lacks (a run killed before publishing it) is
published, and the URL's markers are copied into the stage, so the run skips whatever is published, from this
machine or another. What a store cannot give: a lock. Two clients converting into one URL at the same time (from
different stages) may both convert a document; both write the same objects and the last write wins. One client
per URL (with `--ray`, its one driver) converts each document once.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path, PurePosixPath
from typing import Any

from docvl.errors import UsageError
from docvl.io import atomic_write_text, inside
from docvl.results import (
    DONE_DIR,
    STATE_DIR,
    DocResult,
    ResultsError,
    doc_key,
    latest_offsets,
    marker_path,
    marker_relpath,
    marker_text,
    read_at,
    record_line,
    record_relpath,
)

STAGE_OWNER = f"{STATE_DIR}/remote"  # in a stage: the URL it stages for


def _brief(exc: BaseException) -> str:
    """An exception from a store's client as a short clause: its first line, its class when that says more."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class RemoteOut:
    """One output URL: checked at opening, then documents published to it and its markers read."""

    def __init__(self, fs: Any, root: str):
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = fs.unstrip_protocol(self.root)

    def _path(self, relpath: str) -> str:
        return f"{self.root}/{relpath}"

    def _put(self, relpath: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(self._path(relpath), data)
        except Exception as exc:  # any client's failure (network, permission, quota) names the object
            raise ResultsError(f"cannot publish ({_brief(exc)})", f"{self.url}/{relpath}") from None

    def check(self) -> None:
        """Fail before any work when the store cannot be written: an object is put and deleted for real."""
        probe = self._path(f"{STATE_DIR}/probe-{socket.gethostname()}-{os.getpid()}")
        try:
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except Exception as exc:  # unreachable, unauthorised, no such bucket: all one line
            raise UsageError(f"cannot write to this output ({_brief(exc)})", self.url) from None

    def default_stage(self) -> Path:
        """The local stage a URL gets unless `--stage` names one: a cache folder of its own."""
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "docvl" / "stage" / hashlib.sha256(self.url.encode()).hexdigest()[:16]

    def publish(self, key: str, result: DocResult, markdown: str | None) -> None:
        """Put one finished document: Markdown, record, then (for a document with a hash) its done marker."""
        if result.markdown is not None and markdown is not None:
            self._put(result.markdown, markdown.encode("utf-8"))
        self._put(record_relpath(key), record_line(result))
        if result.sha256:
            self._put(marker_relpath(key), marker_text(result).encode("utf-8"))

    def markers(self) -> dict[str, str]:
        """key -> marker text of every document published to the URL."""
        try:
            self.fs.invalidate_cache()
            names = self.fs.glob(self._path(f"{DONE_DIR}/*"))
            found = self.fs.cat(names) if names else {}
        except Exception as exc:
            raise ResultsError(f"cannot read the done markers ({_brief(exc)})", f"{self.url}/{DONE_DIR}") from None
        return {PurePosixPath(name).name: data.decode("utf-8") for name, data in found.items()}

    def sync(self, stage: Path) -> int:
        """Make `stage` ready for a run: publish what it finished and the URL lacks, then copy in the URL's
        markers (its done-set). The number of documents published here."""
        owner = stage / STAGE_OWNER
        if owner.is_file() and owner.read_text(encoding="utf-8") != self.url:
            raise UsageError(f"this stage holds the work of {owner.read_text(encoding='utf-8')}, not {self.url}", stage)
        atomic_write_text(owner, self.url)
        published = self.markers()
        late = 0
        for relpath, (results, offset, _) in latest_offsets(stage).items():
            key = doc_key(relpath)
            if key in published:
                continue
            record = read_at(results, offset)
            markdown = inside(stage, record.markdown) if record.markdown else None
            if not record.sha256 or (markdown is not None and not markdown.is_file()):
                continue  # not done (no hash), or its Markdown was removed: the run converts it again
            self.publish(key, record, markdown.read_text(encoding="utf-8") if markdown else None)
            published[key] = marker_text(record)
            late += 1
        for key, text in published.items():
            marker = marker_path(stage, key)
            if not marker.is_file() or marker.read_text(encoding="utf-8") != text:
                atomic_write_text(marker, text)
        return late


def open_remote(url: str) -> RemoteOut:
    """The output at `url`, checked writable; a UsageError naming the URL when its file system is not installed
    (s3fs, gcsfs), unknown, or the store cannot be reached or written."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise UsageError(f"the file system for this URL is not installed ({_brief(exc)})", url) from None
    except Exception as exc:  # an unknown protocol, or a client that cannot even be set up
        raise UsageError(f"cannot open this output ({_brief(exc)})", url) from None
    remote = RemoteOut(fs, root)
    remote.check()
    return remote
