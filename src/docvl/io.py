"""Small file helpers every stage shares: atomic writes (a crash never leaves half a file), hashing, keeping
paths read from files (manifests, results, dataset rows) inside the folder they belong to, and inputs named by
fsspec URLs (s3://, gs://, ...; `file://` is a local path)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docvl.errors import OutsidePathError, WriteError


def _file_mode() -> int:
    """The mode `open()` would give a new file (0666 less the umask); mkstemp alone would give 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it: readers see all or nothing. A failure
    (permission, full disk, a file where a folder should be) is a `WriteError` naming `path`, not the temp file."""
    target = Path(path)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write this file ({exc.strerror or exc})", target) from exc
        raise


def check_writable(path: str | Path, *, folder: bool = False) -> None:
    """Fail before the work, not after it, when `path` (a file to write, or with `folder` a folder to write
    into) cannot be written: its nearest existing folder must take a new file (tried for real: root ignores
    permission bits, read-only mounts do not)."""
    target = Path(path)
    if target.exists() and target.is_dir() != folder:
        raise WriteError(f"cannot write here: it is {'a file' if folder else 'a folder'}", target)
    existing = target if folder and target.exists() else target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise WriteError(f"cannot write here: {existing} is a file, not a folder", target)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise WriteError(f"cannot write here ({exc.strerror or exc} in {existing})", target) from None
    if target.is_file() and not os.access(target, os.W_OK):
        raise WriteError("cannot write here (the file is read-only)", target)


def atomic_write_text(path: str | Path, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


class JsonlAppender:
    """Appends JSON lines to one file, each flushed at once, so a killed run keeps every finished record.

    (Flushed, not fsynced: the records survive the process dying, which is what resuming relies on; an fsync
    per record made `prepare` several times slower.)
    """

    def __init__(self, path: str | Path):
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._handle = target.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; a torn last line (from a killed writer) is ignored."""
    target = Path(path)
    if not target.exists():
        return []
    records = []
    for line in target.read_text(encoding="utf-8").split("\n"):  # not splitlines(): U+2028 may sit inside a value
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_url(path: str | Path) -> bool:
    """Whether `path` is an fsspec URL (`s3://bucket/key`) rather than a local path."""
    return isinstance(path, str) and "://" in path


def is_remote(path: str | Path) -> bool:
    """Whether `path` names a place on another file system (`s3://`, `gs://`, `memory://`), not a local one."""
    return is_url(path) and not str(path).startswith("file://")


def local_path(path: str) -> str:
    """A `file://` URL as the local path it names; anything else as it is."""
    return path.removeprefix("file://")


def _open_binary(path: str | Path) -> Any:
    if is_url(path):
        import fsspec

        return fsspec.open(str(path), "rb").open()
    return Path(path).open("rb")


@contextmanager
def local_copy(path: str | Path) -> Iterator[str]:
    """A local path with `path`'s content: `path` itself, or for a URL a temporary copy (removed afterwards), for
    readers that need a file (pdfium, the render helper)."""
    if not is_url(path):
        yield str(path)
        return
    suffix = Path(str(path).rpartition("/")[2]).suffix
    fd, tmp = tempfile.mkstemp(prefix=".docvl-input.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as target, _open_binary(path) as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                target.write(chunk)
        yield tmp
    finally:
        Path(tmp).unlink(missing_ok=True)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file (or of an fsspec URL's object), read in chunks."""
    digest = hashlib.sha256()
    with _open_binary(path) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inside(root: str | Path, relative: str | Path) -> Path:
    """`root / relative`, normalised, when it stays inside `root`; else OutsidePathError.

    Every path a file names (a manifest's `pdf`, a results record's `markdown`, a dataset row's tarball) goes
    through here before anything is read, moved or written: an absolute path, `..` climbing out, or a folder
    on the way that is a symlink leading out are refused. The last component may itself be a symlink
    (`prepare --link` writes them, hub snapshots are made of them): it is the set's own entry.
    """
    text = os.fspath(relative)
    if not text or "\x00" in text:
        raise OutsidePathError(f"{text!r} is not a file name")
    if os.path.isabs(text):
        raise OutsidePathError(f"{text!r} is an absolute path (must be relative to {root})")
    normal = os.path.normpath(text)
    if normal in (".", "..") or normal.startswith(".." + os.sep):
        raise OutsidePathError(f"{text!r} leads outside {root}")
    target = Path(root) / normal
    if not target.parent.resolve().is_relative_to(Path(root).resolve()):
        raise OutsidePathError(f"{text!r} leads outside {root} through a symlinked folder")
    return target
