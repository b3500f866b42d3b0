"""`prepare --kind olmocr-mix`: AllenAI's olmOCR-mix (labels in parquet, single-page PDFs in tarballs).

The dataset's rows are pages; this source groups them back into their source documents (by `url`) so the
train/eval split keeps every page of one PDF on one side, and rebuilds each page pair in the canonical page
format. A local directory in the hub layout is read directly; anything else that looks like a hub id
(`allenai/olmOCR-mix-1025`) is fetched with `huggingface_hub.snapshot_download` first.

Layout (main branch of the hub repos, as `snapshot_download` leaves it):

- olmOCR-mix-1025: `{subset}_{split}.parquet` at the root, subsets `00_documents`, `01_books`,
  `02_loc_transcripts`, `03_national_archives`, splits `train` and `eval` (the `configs:` of the dataset card,
  huggingface.co/datasets/allenai/olmOCR-mix-1025/blob/main/README.md). PDFs are in
  `pdf_tarballs/{subset}_{split}_{NNNNN}.tar.gz` (chunks of at most 1 GiB), one member `{id}.pdf` per row,
  where `id` may contain `/` (e.g. `0000/abc-1.pdf`). Columns: `id` (written as the pandas index), `url`,
  `page_number` (1-based page of the source document), `pdf_relpath` (`pdf_tarballs/<tarball>:<member>`),
  `primary_language`, `is_rotation_valid`, `rotation_correction`, `is_table`, `is_diagram`, `natural_text`
  (null for a blank page), `extras` (JSON). Source: `olmocr/data/repackage_olmocrmix.py` (writes exactly this
  layout) and `olmocr/data/prepare_olmocrmix.py` (reads it: `{subset}_{split}.parquet`,
  `pdf_tarballs/{subset}_{split}_*.tar.gz`) of allenai/olmocr (read in forks' copies of those files).
- olmOCR-mix-0225: `train-s2pdf.parquet`, `eval-s2pdf.parquet` (subset `00_documents`), `train-iabooks.parquet`,
  `eval-iabooks.parquet` (`01_books`), columns `id` (pandas index), `url`, `page_number` and `response` (a JSON
  string with the front matter fields and `natural_text`); PDFs in `pdf_chunk_NNNN.tar.gz` tarballs, flat
  members `{id}.pdf`, subsets mixed, so a row's tarball is found by searching them all (in `pdf_tarballs/`,
  where `prepare_olmocrmix.py` looks, or at the root, where the upload script's `upload_large_folder` put them).
  Source: the earlier `prepare_olmocrmix.py` (its hard-coded parquet map, the `response` JSON, the
  `extracted/{id}.pdf` lookup) and olmocr's tarball upload script (`pdf_chunk_{i:04d}.tar.gz`, arcname = name).

Tarballs are gzip streams, so a member cannot be read without decompressing everything before it: reading
pages in any order from a `.tar.gz` would be quadratic. The first worker that needs a compressed tarball
therefore decompresses it once into a plain `.tar` under `$XDG_CACHE_HOME/docvl/olmocr-mix/` (shared by all
workers under a file lock; as large as the dataset's PDFs, delete it after `prepare`); each process then indexes
a tarball's members once and reads pages by offset.
"""

from __future__ import annotations

import fcntl
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from docvl.data.sources import DocRef, SourcePage
from docvl.errors import OutsidePathError, PageFormatError, PdfError, UsageError
from docvl.io import inside
from docvl.page import FIELD_NAMES, markdown_from_labels
from docvl.pdf import PdfFile
from docvl.system import user_cache_dir

KIND = "olmocr-mix"
LABEL_COLUMNS = FIELD_NAMES  # the label columns are the front-matter fields, named alike
SUBSETS_0225 = {"s2pdf": "00_documents", "iabooks": "01_books"}

_PARQUET_1025 = re.compile(r"(?P<subset>.+)_(?P<split>train|eval)\.parquet")
_PARQUET_0225 = re.compile(r"(?P<split>train|eval)-(?P<name>.+)\.parquet")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_RELPATH = re.compile(r"(?P<tarball>.+?\.(?:tar\.gz|tgz|tar)):(?P<member>.+)")
_GZIP_MAGIC = b"\x1f\x8b"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class _NoPdf(Exception):
    """The page's PDF is not where the row says (a `source_missing_pdf` error, never raised out of a worker)."""


def cache_dir() -> Path:
    """Where decompressed tarballs go: `$XDG_CACHE_HOME/docvl/olmocr-mix` (default `~/.cache`)."""
    return user_cache_dir("olmocr-mix")


def resolve_root(root: Path) -> Path:
    """The local dataset directory: `root` itself, or the snapshot of hub id `root` (UsageError when neither)."""
    if root.exists():
        if not root.is_dir():
            raise UsageError("an olmOCR-mix source must be a directory (or a hub id)", root)
        return root
    name = str(root)
    if not _HUB_ID.fullmatch(name):
        raise UsageError("source does not exist", root)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, repo_type="dataset"))
    except Exception as exc:  # the hub raises many types (HTTP, offline, not found); all mean "not available"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"cannot download dataset '{name}' from the Hugging Face hub ({type(exc).__name__}: {reason})",
            hint="download it elsewhere with `hf download --repo-type dataset` and pass the local folder",
        ) from None


def find_parquets(root: Path) -> list[tuple[str, Path]]:
    """(subset, parquet file) for every label file at the top of `root`, in either release's naming."""
    found = []
    for path in sorted(root.glob("*.parquet")):
        new, old = _PARQUET_1025.fullmatch(path.name), _PARQUET_0225.fullmatch(path.name)
        if new:
            found.append((new["subset"], path))
        elif old:
            found.append((SUBSETS_0225.get(old["name"], old["name"]), path))
    return found


def _id_column(schema: pa.Schema, path: Path) -> str:
    """The page id column: `id`, or the pandas index the release was written with."""
    if "id" in schema.names:
        return "id"
    for column in (schema.pandas_metadata or {}).get("index_columns", []):
        if isinstance(column, str) and column in schema.names:
            return column
    raise UsageError("parquet file has no 'id' column (not an olmOCR-mix label file)", path)


def _slug(text: str, limit: int = 48) -> str:
    return _UNSAFE.sub("_", text).strip("._-")[:limit].rstrip("._-")


def _doc_key(row_id: str | None, url: str | None, page_number: int | None, where: str) -> str:
    """What ties pages to their source document: the URL, else the id without its `-<page>` suffix."""
    if url:
        return url
    if row_id:
        suffix = f"-{page_number}"
        return row_id[: -len(suffix)] if page_number is not None and row_id.endswith(suffix) else row_id
    return where


def doc_id_for(subset: str, key: str) -> str:
    """`{subset}-{readable tail of the key}-{hash}`: stable, filesystem-safe, unique per subset and key."""
    tail = key.rstrip("/").rsplit("/", 1)[-1]
    tail = tail[:-4] if tail.lower().endswith(".pdf") else tail
    digest = hashlib.sha256(f"{subset}\n{key}".encode()).hexdigest()[:12]
    return "-".join(part for part in (_slug(subset), _slug(tail), digest) if part)


def list_docs(root: Path) -> list[DocRef]:
    """One DocRef per source document of every subset, its rows (from both upstream splits) in `extra`."""
    base = resolve_root(root)
    parquets = find_parquets(base)
    if not parquets:
        raise UsageError(
            "no olmOCR-mix label files here (expected {subset}_{split}.parquet or {split}-{name}.parquet, "
            "where {split} is train or eval)",
            base,
        )
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for subset, path in parquets:
        schema = pq.read_schema(path)
        id_col = _id_column(schema, path)
        columns = [c for c in (id_col, "url", "page_number") if c in schema.names]
        table = pq.read_table(path, columns=columns)
        ids = table.column(id_col).to_pylist()
        urls = table.column("url").to_pylist() if "url" in columns else [None] * len(ids)
        pages = table.column("page_number").to_pylist() if "page_number" in columns else [None] * len(ids)
        for index, (row_id, url, page) in enumerate(zip(ids, urls, pages, strict=True)):
            # Values of any type group rows; bad ones are reported by load_doc, row by row.
            row_id, url = (None if value is None else str(value) for value in (row_id, url))
            key = _doc_key(row_id, url, page if isinstance(page, int) else None, f"{path.name}#{index}")
            groups.setdefault((subset, key), []).append((path.name, index))
    shared = {"root": str(base.resolve()), "cache_dir": str(cache_dir())}
    refs = [
        DocRef(KIND, doc_id_for(subset, key), key, {**shared, "subset": subset, "rows": json.dumps(rows)})
        for (subset, key), rows in groups.items()
    ]
    return sorted(refs, key=lambda ref: ref.doc_id)


@functools.lru_cache(maxsize=4)
def _label_table(path: Path) -> tuple[pa.Table, str]:
    """A parquet file's label columns, read once per process (a document's rows are scattered through it)."""
    schema = pq.read_schema(path)
    id_col = _id_column(schema, path)
    wanted = (id_col, "page_number", "pdf_relpath", "response", "natural_text", *LABEL_COLUMNS)
    return pq.read_table(path, columns=[c for c in dict.fromkeys(wanted) if c in schema.names]), id_col


def _read_row(path: Path, index: int) -> dict[str, Any]:
    table, id_col = _label_table(path)
    row = table.slice(index, 1).to_pylist()[0]
    if id_col != "id":
        row["id"] = row.pop(id_col)
    return row


def _labels(row: dict[str, Any]) -> dict[str, Any]:
    """The front matter fields and `natural_text` of a row: label columns (1025) or the `response` JSON (0225)."""
    if "natural_text" in row or "response" not in row:
        return row
    try:
        labels = json.loads(row["response"] or "")
    except json.JSONDecodeError as exc:
        raise PageFormatError(f"front matter: 'response' is not JSON ({exc.msg})") from None
    if not isinstance(labels, dict):
        raise PageFormatError("front matter: 'response' is not a JSON object")
    return labels


@dataclass(frozen=True)
class _Tarball:
    """A plain tar on disk and where each member's bytes are in it."""

    path: Path
    members: dict[str, tuple[int, int]]

    def read(self, member: str) -> bytes:
        offset, size = self.members[member]
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(size)


_TARBALLS: dict[Path, _Tarball | str] = {}  # per process: index, or why the tarball cannot be read


def _plain_tar(path: Path, cache: Path) -> Path:
    """`path` if it is an uncompressed tar, else its decompressed copy in `cache` (made once, under a lock)."""
    with path.open("rb") as handle:
        if handle.read(2) != _GZIP_MAGIC:
            return path
    stat = path.stat()
    digest = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache / f"{path.name.split('.')[0]}-{digest}.tar"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                with gzip.open(path) as src, tmp.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
    return target


def _tarball(path: Path, cache: Path) -> _Tarball:
    """The member index of a tarball, built once per process; an unreadable tarball is remembered as such."""
    known = _TARBALLS.get(path)
    if known is None:
        try:
            plain = _plain_tar(path, cache)
            with tarfile.open(plain, "r:") as tar:
                members = {m.name.removeprefix("./"): (m.offset_data, m.size) for m in tar if m.isfile()}
            known = _Tarball(plain, members)
        except FileNotFoundError:
            known = f"tarball {path.name} does not exist"
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            known = f"tarball {path.name} cannot be read ({exc})"
        _TARBALLS[path] = known
    if isinstance(known, str):
        raise _NoPdf(known)
    return known


@functools.lru_cache(maxsize=8)
def _all_tarballs(root: Path) -> tuple[Path, ...]:
    """Every tarball of a release whose rows do not name theirs (0225)."""
    patterns = ("*.tar", "*.tar.gz", "*.tgz")
    return tuple(sorted({p for folder in (root, root / "pdf_tarballs") for pat in patterns for p in folder.glob(pat)}))


def _find_pdf(root: Path, cache: Path, row: dict[str, Any]) -> tuple[str, bytes]:
    """(where the PDF is, its bytes) for a row, or _NoPdf."""
    relpath = row.get("pdf_relpath")
    if relpath:
        match = _RELPATH.fullmatch(relpath) if isinstance(relpath, str) else None
        if not match:
            raise _NoPdf(f"pdf_relpath {relpath!r} is not '<tarball>:<member>'")
        try:
            tarball = inside(root, match["tarball"])
        except OutsidePathError as exc:
            raise OutsidePathError(f"pdf_relpath tarball {exc.message}") from None
        member = match["member"].removeprefix("./")
        where = f"{tarball}:{member}"
        index = _tarball(tarball, cache)
        if member not in index.members:
            raise _NoPdf(f"{member} is not in tarball {tarball.name}")
        return where, index.read(member)
    member = f"{row['id']}.pdf"
    for tarball in _all_tarballs(root):
        try:
            index = _tarball(tarball, cache)
        except _NoPdf:
            continue
        if member in index.members:
            return f"{tarball}:{member}", index.read(member)
    raise _NoPdf(f"{member} is in none of the {len(_all_tarballs(root))} tarballs")


def _load_page(ref: DocRef, root: Path, cache: Path, where: str, row: dict[str, Any]) -> SourcePage:
    page = SourcePage(ref.doc_id, row.get("page_number"), where)
    try:
        page.markdown = markdown_from_labels(_labels(row))
        page.origin, data = _find_pdf(root, cache, row)
        with PdfFile(data, name=page.origin) as pdf:
            pdf.require_single_page()
    except PageFormatError as exc:
        page.markdown, page.error, page.check = None, exc.message, exc.check
    except _NoPdf as exc:
        page.markdown, page.error, page.check = None, str(exc), "source_missing_pdf"
    except (PdfError, OutsidePathError) as exc:
        page.markdown, page.error, page.check = None, exc.message, exc.check
    else:
        page.pdf = data
    return page


def load_doc(ref: DocRef) -> list[SourcePage]:
    """Every page of one document in page order; a bad row becomes a page with `error` and `check`."""
    root, cache = Path(ref.extra["root"]), Path(ref.extra["cache_dir"])
    rows = []
    for name, index in json.loads(ref.extra["rows"]):
        row = _read_row(root / name, index)
        rows.append((f"{root / name}:{row['id']}", row))
    rows.sort(key=lambda item: item[1].get("page_number") if isinstance(item[1].get("page_number"), int) else 0)
    pages, seen = [], {}
    for where, row in rows:
        if row.get("page_number") is None:  # olmOCR's repackage_olmocrmix.py: an id without `-N`, a one-page PDF
            row["page_number"] = 1
        number = row.get("page_number")
        if not isinstance(number, int) or number < 1:
            error = f"page_number {number!r} is not a page number"
            pages.append(SourcePage(ref.doc_id, 0, where, error=error, check="source_page_number"))
        elif number in seen:
            error = f"page {number} of this document is also at {seen[number]}"
            pages.append(SourcePage(ref.doc_id, number, where, error=error, check="source_duplicate_page"))
        else:
            seen[number] = where
            pages.append(_load_page(ref, root, cache, where, row))
    return pages
