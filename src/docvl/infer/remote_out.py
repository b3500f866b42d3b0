"""`convert --out URL`: converting into an object store (S3, GCS, any fsspec URL), so a cluster needs no shared
file system for its output either.

An object store has no rename, no append and no lock; what it has is the put of one object, which is atomic. So
the run works exactly as into a local folder, in a local stage (claims, atomic writes, the results file, the
ledger: `docvl.infer.convert`), and the `RemoteOut` puts each document the stage finishes to the URL as whole
objects, in the order resume relies on: its Markdown, its record (`.docvl/records/<key>.json`, the record's JSON
line as an object: `docvl.results`), then its done marker. A run killed between two puts leaves no marker
without its Markdown and record.

Documents are published on a few threads (`publishing`), each document's puts in order, so a store's latency
does not hold up the conversion; the stage notes each one published (`.docvl/published/<key>`). Before a run,
`sync`: what the stage finished and has not published (a run killed first) is published, and the URL's markers
the stage lacks are copied into it, so the run skips whatever is published, from this machine or another.

What a store cannot give: a lock. Two clients converting into one URL at the same time (from different stages)
may both convert a document; both write the same objects and the last write wins. One client per URL (with
`--ray`, its one driver) converts each document once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from docvl.errors import UsageError
from docvl.infer.convert import Publish
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
from docvl.system import user_cache_dir

STAGE_OWNER = f"{STATE_DIR}/remote"  # in a stage: the URL it stages for
PUBLISHED_DIR = f"{STATE_DIR}/published"  # in a stage: a note per document published (its marker's text)
PUBLISH_THREADS = 8  # documents published at once
PUBLISH_QUEUE = 64  # documents handed over and not yet published, at most (their Markdown is held in memory)


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
        return user_cache_dir("stage", hashlib.sha256(self.url.encode()).hexdigest()[:16])

    def publish(self, key: str, result: DocResult, markdown: str | None) -> None:
        """Put one finished document: Markdown, record, then (for a document with a hash) its done marker."""
        if result.markdown is not None and markdown is not None:
            self._put(result.markdown, markdown.encode("utf-8"))
        self._put(record_relpath(key), record_line(result))
        if result.sha256:
            self._put(marker_relpath(key), marker_text(result).encode("utf-8"))

    @contextlib.contextmanager
    def publishing(self, stage: Path) -> Iterator[Publish]:
        """A `publish` for a run in `stage` that hands each document to one of `PUBLISH_THREADS` threads (its puts
        in order, then the stage's note) and blocks while `PUBLISH_QUEUE` wait. On the way out every document
        handed over is published, unless the run was interrupted or a put failed: then those not started yet are
        left to the next `sync`. A failed put stops the run at the next document (and at the end): its error is
        raised there."""
        pool = ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="docvl-publish")
        room = threading.Semaphore(PUBLISH_QUEUE)
        failures: list[BaseException] = []

        def put_document(key: str, result: DocResult, markdown: str | None) -> None:
            try:
                self.publish(key, result, markdown)
                if result.sha256:
                    atomic_write_text(stage / PUBLISHED_DIR / key, marker_text(result))
            except BaseException as exc:  # raised in the run's thread, at its next document or at the end
                failures.append(exc)
            finally:
                room.release()

        def hand_over(key: str, result: DocResult, markdown: str | None) -> None:
            if failures:
                raise failures[0]
            room.acquire()
            pool.submit(put_document, key, result, markdown)

        try:
            yield hand_over
        except BaseException as exc:
            pool.shutdown(wait=True, cancel_futures=bool(failures) or isinstance(exc, KeyboardInterrupt))
            raise
        pool.shutdown(wait=True)
        if failures:
            raise failures[0]

    def _markers(self, skip: set[str]) -> dict[str, str]:
        """key -> text of the URL's done markers, but for the keys in `skip` (listed afresh, read in one batch)."""
        try:
            self.fs.invalidate_cache()
            paths = [path for path in self.fs.glob(self._path(f"{DONE_DIR}/*")) if PurePosixPath(path).name not in skip]
            found = self.fs.cat(paths) if paths else {}
        except Exception as exc:
            raise ResultsError(f"cannot read the done markers ({_brief(exc)})", f"{self.url}/{DONE_DIR}") from None
        return {PurePosixPath(path).name: data.decode("utf-8") for path, data in found.items()}

    def sync(self, stage: Path) -> int:
        """Make `stage` ready for a run: publish what it finished and has not published, then copy in the URL's
        markers it lacks (the URL's done-set; a marker the stage has is taken as the URL's, so an input changed
        and converted elsewhere is converted again here). The number of documents published now."""
        owner = stage / STAGE_OWNER
        if owner.is_file() and owner.read_text(encoding="utf-8") != self.url:
            raise UsageError(f"this stage holds the work of {owner.read_text(encoding='utf-8')}, not {self.url}", stage)
        atomic_write_text(owner, self.url)
        late = 0
        with self.publishing(stage) as publish:
            for relpath, (results, offset, _) in latest_offsets(stage).items():
                key = doc_key(relpath)
                note = stage / PUBLISHED_DIR / key
                record = read_at(results, offset)
                markdown = inside(stage, record.markdown) if record.markdown else None
                if not record.sha256 or (markdown is not None and not markdown.is_file()):
                    continue  # not done (no hash), or its Markdown was removed: the run converts it again
                if note.is_file() and note.read_text(encoding="utf-8") == marker_text(record):
                    continue
                publish(key, record, markdown.read_text(encoding="utf-8") if markdown else None)
                late += 1
        done = stage / DONE_DIR
        for key, text in self._markers({m.name for m in done.iterdir()} if done.is_dir() else set()).items():
            atomic_write_text(marker_path(stage, key), text)
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
