"""Convert's results: typed page and document records and the one module that names, writes and reads them.

Layout under a convert output folder `OUT`:
- `results.jsonl` (`results.shard-I-of-N.jsonl` with `--shard`): one JSON line per finished document,
  appended under an exclusive lock, all or nothing (a short write or a full disk leaves no torn line);
- the Markdown files the records name, and `.docvl/done/<key>`: a marker per document (`relpath\\nsha256`);
  `write_document` writes all three in the order resume relies on.

An output on an object store (`convert --out s3://...`, see `docvl.infer.remote_out`) has no JSONL file, as a
store cannot append: each record is its own object, `.docvl/records/<key>.json` (the same JSON as the line), beside
the Markdown and the markers. `latest` and `latest_offsets` read either layout (a URL, or a copy of it).

The JSON format is docvl 0.1.0's: a reason is stored as its sentence (see `docvl.judge.Outcome`), and a record
read here and written again is the same JSON. `latest` gives the newest record per document, `done_keys`
the (relpath, sha256) pairs a resumed run skips. `convert`, `eval` and `prepare --kind converted` all read
through here.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from docvl.errors import DocvlError
from docvl.io import atomic_write_text, is_remote
from docvl.judge import Outcome, Reason
from docvl.page import FrontMatter

STATE_DIR = ".docvl"
RESULTS_GLOB = "results*.jsonl"
RECORDS_DIR = f"{STATE_DIR}/records"  # an object store's records, one object each
DONE_DIR = f"{STATE_DIR}/done"


class ResultsError(DocvlError):
    """A results file cannot be written, or holds a record that is not one."""


class DocStatus(StrEnum):
    """`ok` and `failed` documents have pages (`failed`: more fallback pages than the error budget);
    `error` (unreadable input) and `empty` (no pages) have none."""

    OK = "ok"
    FAILED = "failed"
    ERROR = "error"
    EMPTY = "empty"


@dataclass
class PageResult:
    """One page: the accepted reply's front matter and text, or the text-layer fallback (`fallback`,
    `front_matter` None). `outcomes` has one entry per attempt (a page that could not be rendered: one
    NOT_RENDERED entry and no attempt); `rotation` is what convert turned the page by before the last ask."""

    page: int
    fallback: bool
    front_matter: FrontMatter | None
    text: str
    rotation: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def attempts(self) -> int:
        return len(self.temperatures)

    def had(self, reason: Reason) -> bool:
        """Whether any attempt ended for `reason`."""
        return any(outcome.reason is reason for outcome in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "fallback": self.fallback,
            "front_matter": asdict(self.front_matter) if self.front_matter else None,
            "text": self.text,
            "rotation": self.rotation,
            "attempts": self.attempts,
            "reasons": [str(outcome) for outcome in self.outcomes],
            "temperatures": self.temperatures,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageResult:
        temperatures = [float(t) for t in data.get("temperatures") or []]
        reasons = [str(r) for r in data.get("reasons") or []]
        never_asked = len(reasons) - len(temperatures)  # a page refused before rendering has one such entry first
        fm = data.get("front_matter")
        page = data["page"]
        if not isinstance(page, int) or isinstance(page, bool):
            raise ValueError(f"page {page!r} is not a number")
        return cls(
            page=page,
            fallback=bool(data["fallback"]),
            front_matter=FrontMatter(**fm) if fm is not None else None,
            text=str(data.get("text") or ""),
            rotation=int(data.get("rotation") or 0),
            outcomes=[Outcome.parse(r, asked=i >= never_asked) for i, r in enumerate(reasons)],
            temperatures=temperatures,
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            seconds=float(data.get("seconds") or 0.0),
        )


@dataclass
class DocResult:
    """One document's record. `markdown` names its Markdown file (relative to OUT) when one was written."""

    path: str
    source: str
    sha256: str | None
    status: DocStatus
    worker: str
    finished_at: str
    markdown: str | None = None
    error: str | None = None
    pages: list[PageResult] = field(default_factory=list)
    seconds: float | None = None

    @property
    def fallback_pages(self) -> int:
        return sum(page.fallback for page in self.pages)

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "path": self.path,
            "source": self.source,
            "sha256": self.sha256,
            "status": self.status.value,
            "worker": self.worker,
            "finished_at": self.finished_at,
        }
        if self.error is not None:
            record["error"] = self.error
        if self.markdown is not None:
            record["markdown"] = self.markdown
        record["num_pages"] = len(self.pages)
        if self.status in (DocStatus.OK, DocStatus.FAILED):
            record["fallback_pages"] = self.fallback_pages
            record["seconds"] = self.seconds
        record["pages"] = [page.to_dict() for page in self.pages]
        return record

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocResult:
        seconds = data.get("seconds")
        return cls(
            path=str(data["path"]),
            source=str(data.get("source") or ""),
            sha256=data.get("sha256"),
            status=DocStatus(data["status"]),
            worker=str(data.get("worker") or ""),
            finished_at=str(data.get("finished_at") or ""),
            markdown=data.get("markdown"),
            error=data.get("error"),
            pages=[PageResult.from_dict(page) for page in data.get("pages") or []],
            seconds=float(seconds) if seconds is not None else None,
        )


def results_name(shard: tuple[int, int] | None) -> str:
    """The results file of a run: one per shard, so shards never contend for one file."""
    return "results.jsonl" if shard is None else f"results.shard-{shard[0]}-of-{shard[1]}.jsonl"


def record_line(result: DocResult) -> bytes:
    """A record as it is stored: one JSON line (in a results file, or as an object store's record object)."""
    return (json.dumps(result.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")


def append(path: Path, result: DocResult) -> None:
    """Append one record under an exclusive lock, all or nothing: a write that fails or comes up short is
    undone (the file is cut back), and ResultsError names the file. A line torn by a killed writer is closed."""
    line = record_line(result)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise ResultsError(f"cannot open the results file: {exc.strerror}", path) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise ResultsError(f"cannot append a record ({exc.strerror or exc}); nothing was written", path) from None
    finally:
        os.close(fd)


def write_document(out: Path, results_file: Path, key: str, result: DocResult, markdown: str | None) -> None:
    """Markdown (atomic), record (appended all or nothing), done marker: the order resume relies on. When the
    record cannot be written the Markdown is taken back; every failure is a ResultsError naming its file."""
    target = out / result.markdown if result.markdown else None
    try:
        if target is not None and markdown is not None:
            atomic_write_text(target, markdown)
        try:
            append(results_file, result)
        except ResultsError:
            if target is not None and markdown is not None:
                target.unlink(missing_ok=True)
            raise
        if result.sha256:
            atomic_write_text(marker_path(out, key), marker_text(result))
    except OSError as exc:
        raise ResultsError(f"cannot write ({exc.strerror or exc})", exc.filename or target or out) from None


def _lines(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(line number, byte offset, JSON object) per line; torn lines (a killed writer's) are skipped."""
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            if isinstance(data, dict):
                yield number, offset, data
            offset += len(line)


def latest_offsets(
    out: Path, statuses: tuple[DocStatus, ...] = tuple(DocStatus)
) -> dict[str, tuple[Path, int, int]]:
    """relpath -> (results file, byte offset, line number) of its newest record among those with one of
    `statuses`, without keeping page text (for large outputs)."""
    wanted = {status.value for status in statuses}
    newest: dict[str, tuple[Path, int, int, str]] = {}
    # record objects too: a copy of an object store's output is read like the folder convert writes
    for path in sorted(out.glob(RESULTS_GLOB)) + sorted(out.glob(f"{RECORDS_DIR}/*.json")):
        for number, offset, data in _lines(path):
            key, when = str(data.get("path", "")), str(data.get("finished_at", ""))
            if data.get("status") in wanted and (key not in newest or when >= newest[key][3]):
                newest[key] = (path, offset, number, when)
    return {key: (path, offset, number) for key, (path, offset, number, _) in newest.items()}


def raw_at(path: Path, offset: int) -> Any:
    """The JSON value of the line at `offset` of a results file, unchecked (ValueError when it is not JSON)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return json.loads(handle.readline())


def read_at(path: Path, offset: int) -> DocResult:
    """The record at `offset` of a results file; ResultsError naming the file when it is not a record."""
    try:
        return DocResult.from_dict(raw_at(path, offset))
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"record at byte {offset} is not a convert record ({exc})", path) from None


def latest(
    out: Path | str, statuses: tuple[DocStatus, ...] = tuple(DocStatus), on_bad: Callable[[str], None] | None = None
) -> dict[str, DocResult]:
    """The newest record per document path from every results file under `out` (or, for an object store's URL,
    from its record objects); a record that does not parse is left out (and reported to `on_bad` when given)."""
    if is_remote(out):
        return _latest_objects(str(out), statuses, on_bad)
    out = Path(out)
    records = {}
    for key, (path, offset, _) in latest_offsets(out, statuses).items():
        try:
            records[key] = read_at(path, offset)
        except ResultsError as exc:
            if on_bad:
                on_bad(str(exc))
    return records


def _latest_objects(
    url: str, statuses: tuple[DocStatus, ...], on_bad: Callable[[str], None] | None
) -> dict[str, DocResult]:
    """`latest` of an object store's output: every `.docvl/records/*.json` object, read in one batch."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()  # a listing this process made earlier may predate the records
    names = fs.glob(f"{root.rstrip('/')}/{RECORDS_DIR}/*.json")
    wanted = {status.value for status in statuses}
    records: dict[str, DocResult] = {}
    for name, data in sorted(fs.cat(names).items() if names else []):
        try:
            record = DocResult.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            if on_bad:
                on_bad(str(ResultsError(f"not a convert record ({exc})", fs.unstrip_protocol(name))))
            continue
        newest = records.get(record.path)
        if record.status.value in wanted and (newest is None or record.finished_at >= newest.finished_at):
            records[record.path] = record
    return records


def doc_key(relpath: str) -> str:
    """The name of a document's marker, claim and record object: its output path, hashed."""
    return hashlib.sha1(relpath.encode()).hexdigest()


def record_relpath(key: str) -> str:
    """Where an object store's output keeps a document's record (relative to the output URL)."""
    return f"{RECORDS_DIR}/{key}.json"


def marker_relpath(key: str) -> str:
    return f"{DONE_DIR}/{key}"


def marker_text(result: DocResult) -> str:
    return f"{result.path}\n{result.sha256}"


def marker_path(out: Path, key: str) -> Path:
    return out / marker_relpath(key)


def done_keys(out: Path) -> set[tuple[str, str]]:
    """(relpath, sha256) of every document with a record in any results file or a done marker under `out`."""
    done = {
        (str(data.get("path", "")), str(data.get("sha256", "")))
        for path in out.glob(RESULTS_GLOB)
        for _, _, data in _lines(path)
    }
    markers = out / DONE_DIR
    if markers.is_dir():
        for marker in markers.iterdir():
            relpath, _, digest = marker.read_text(encoding="utf-8").partition("\n")
            done.add((relpath, digest.strip()))
    return done
