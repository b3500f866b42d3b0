"""What `convert` reads and where each input's output goes.

Inputs are PDFs, PNG/JPEG images, directories (recursive), globs and `.txt` lists (one path per line,
relative to the list); each may also be an fsspec URL (`s3://bucket/scans/`, `gs://b/*.pdf`; `file://` is the
local path it names). Each becomes an `InputDoc` whose `relpath` names its outputs under `--out`. An output
must resolve inside `--out` (a `..` in a list entry or a glob cannot lead out of it) and must not be one of
the inputs; two inputs with the same output are a collision. Each refused input is a problem line, and the
run counts it as a failure.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from docvl.errors import UsageError
from docvl.io import is_url, local_path
from docvl.rendering import IMAGE_SUFFIXES
from docvl.results import doc_key

PDF_SUFFIXES = {".pdf"}


@dataclass(frozen=True)
class InputDoc:
    """One input document: where it is and the relative path its output is named after."""

    path: str
    relpath: str
    kind: str  # "pdf" or "image"

    @property
    def key(self) -> str:
        return doc_key(self.relpath)

    @property
    def markdown_relpath(self) -> str:
        return str(Path(self.relpath).with_suffix(".md"))


def _kind(path: Path) -> str:
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "pdf"


def _from_dir(directory: Path, root: Path | None = None) -> list[InputDoc]:
    wanted = PDF_SUFFIXES | IMAGE_SUFFIXES
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in wanted and p.is_file())
    return [InputDoc(str(p), p.relative_to(root or directory).as_posix(), _kind(p)) for p in files]


def _from_list(list_file: Path) -> list[InputDoc]:
    docs = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry) if Path(entry).is_absolute() else list_file.parent / entry
        rel = Path(entry).name if Path(entry).is_absolute() else Path(os.path.normpath(entry)).as_posix()
        docs.append(InputDoc(str(path), rel, _kind(path)))
    return docs


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]]
    return Path(*fixed) if fixed else Path(".")


def _from_url(url: str) -> list[InputDoc]:
    """The inputs an fsspec URL names: one object, every input under a prefix (recursive), or a glob's matches.
    Their paths stay URLs (each node reads them where it runs); relpaths are under the prefix or the glob's root."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    wanted = PDF_SUFFIXES | IMAGE_SUFFIXES
    if glob.has_magic(path):
        root, matches = _glob_root(path).as_posix(), sorted(fs.glob(path))
    elif fs.isdir(path):
        root, matches = path, sorted(fs.find(path))
    elif fs.isfile(path):
        return [InputDoc(url, PurePosixPath(path).name, _kind(Path(path)))]
    else:
        raise UsageError("input does not exist", url)
    docs = [
        InputDoc(fs.unstrip_protocol(match), PurePosixPath(match).relative_to(root).as_posix(), _kind(Path(match)))
        for match in matches
        if Path(match).suffix.lower() in wanted
    ]
    if not docs:
        raise UsageError("no PDF, PNG or JPEG file here", url)
    return docs


def _expand(arg: str) -> list[InputDoc]:
    arg = local_path(arg)
    if is_url(arg):
        return _from_url(arg)
    path = Path(arg)
    if glob.has_magic(arg):
        root = _glob_root(arg)
        matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
        if not matches:
            raise UsageError("glob matches no file", arg)
        docs: list[InputDoc] = []
        for match in matches:
            rel = Path(os.path.normpath(match.relative_to(root))).as_posix()
            docs += _from_dir(match, root) if match.is_dir() else [InputDoc(str(match), rel, _kind(match))]
        return docs
    if path.is_dir():
        return _from_dir(path)
    if path.is_file() and path.suffix.lower() == ".txt":
        return _from_list(path)
    if path.is_file():
        return [InputDoc(str(path), path.name, _kind(path))]
    raise UsageError("input does not exist", arg)


def output_problem(doc: InputDoc, out: Path, input_paths: set[Path]) -> str | None:
    """Why `doc`'s Markdown may not be written (outside `out`, or one of the inputs), else None."""
    root = out.resolve()
    target = (out / doc.markdown_relpath).resolve()
    if not target.is_relative_to(root) or target == root:
        return f"{doc.path}: refused, its output {doc.markdown_relpath} would be outside {out}"
    if target in input_paths:
        return f"{doc.path}: refused, its output {target} is one of the inputs"
    return None


def collect_inputs(inputs: list[str], out: Path) -> tuple[list[InputDoc], list[str]]:
    """Expand the inputs into documents whose outputs may be written under `out`.

    Returns (documents, refused): an argument that names nothing is a UsageError; an input whose output
    would leave `out`, replace an input, or is also another input's is a problem line each and is dropped
    (the first of colliding inputs is kept; the same file given twice is one document).
    """
    docs = [doc for arg in inputs for doc in _expand(arg)]
    input_paths = {Path(doc.path).resolve() for doc in docs}
    kept: dict[str, InputDoc] = {}
    problems = []
    for doc in docs:
        problem = output_problem(doc, out, input_paths)
        first = kept.setdefault(doc.markdown_relpath, doc) if problem is None else None
        if first is not None and first is not doc and Path(first.path).resolve() != Path(doc.path).resolve():
            problem = f"{doc.path}: refused, its output {doc.markdown_relpath} is also {first.path}'s"
        if problem:
            problems.append(problem)
    return list(kept.values()), problems


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` (1-based: 1/4 .. 4/4) -> (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r} is not like 1/4") from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: I must be between 1 and N")
    return index, count


def in_shard(doc: InputDoc, shard: tuple[int, int] | None) -> bool:
    """Stable split by the output path, independent of input order and of the machine."""
    return shard is None or int(doc.key[:12], 16) % shard[1] == shard[0] - 1
