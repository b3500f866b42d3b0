"""What every `prepare` source hands over: documents listed cheaply, loaded into pages in a worker process.

A source kind lives in its own module and provides two functions:
- `list_docs(root: Path) -> list[DocRef]`: runs in the main process, reads no page content;
- `load_doc(ref: DocRef) -> list[SourcePage]`: runs in a worker process, returns every page of one document.
`DocRef` and `SourcePage` are plain picklable dataclasses so the work can cross process boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DocRef:
    """One source document. `doc_id` is stable across runs: the split and output names derive from it."""

    kind: str
    doc_id: str
    origin: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class SourcePage:
    """One page of a source document, ready to be written as a pair.

    `pdf` holds a single-page PDF (or `pdf_path` names an existing single-page PDF file, which prepare may
    link instead of copying); `markdown` the page text with front matter (None for unlabelled pages);
    `source_sha256` the hash of the source bytes the page came from (duplicates are detected with it; when
    None, prepare hashes the page PDF); `error` is set instead when the page could not be made.
    """

    doc_id: str
    page_number: int
    origin: str
    pdf: bytes | None = None
    pdf_path: str | None = None
    markdown: str | None = None
    source_sha256: str | None = None
    error: str | None = None
    check: str | None = None


def doc_id_for(relative: Path | str) -> str:
    """A stable, filesystem-safe id from a path relative to its source root (`a/b c.pdf` -> `a__b_c`)."""
    stem = str(Path(relative).with_suffix(""))
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem.replace("/", "__").replace("\\", "__"))
    return safe.strip("._") or "doc"
