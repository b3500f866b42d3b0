"""The page-set layout on disk, in one place: where pairs live and how they are found.

    PAGESET/
      docvl.yaml         the resolved config that made it
      manifest.jsonl     one record per page: id, doc_id, page, split, pdf, md (paths relative to PAGESET)
      train/<id>.pdf  train/<id>.md
      eval/<id>.pdf   eval/<id>.md

A plain directory of `x.pdf` + `x.md` pairs (any depth, no manifest) is a page set too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docvl.errors import UsageError
from docvl.io import read_jsonl

MANIFEST = "manifest.jsonl"
SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Pair:
    """One page of a page set. Either side may be missing (that is itself a finding of validate)."""

    pdf: Path | None
    md: Path | None
    split: str | None = None
    labelled: bool = True

    @property
    def name(self) -> str:
        return str(self.md or self.pdf)


def _from_manifest(root: Path) -> list[Pair]:
    pairs = []
    for record in read_jsonl(root / MANIFEST):
        md = record.get("md")
        pairs.append(
            Pair(
                pdf=root / record["pdf"],
                md=root / md if md else None,
                split=record.get("split"),
                labelled=md is not None,
            )
        )
    return pairs


def _from_tree(root: Path) -> list[Pair]:
    stems: dict[Path, dict[str, Path]] = {}
    for path in root.rglob("*"):
        suffix = path.suffix.lower()
        if suffix in (".pdf", ".md") and path.is_file() and not path.name.startswith("."):
            stems.setdefault(path.with_suffix(""), {})[suffix] = path
    pairs = []
    for _stem, files in sorted(stems.items()):
        split = next(
            (part for part in files.get(".md", files.get(".pdf")).relative_to(root).parts if part in SPLITS), None
        )
        pairs.append(Pair(pdf=files.get(".pdf"), md=files.get(".md"), split=split))
    return pairs


def find_pairs(root: str | Path, split: str | None = None) -> list[Pair]:
    """The pairs of a page set (manifest when present, else every pdf/md pair found below `root`)."""
    base = Path(root)
    if not base.exists():
        raise UsageError("page set does not exist", base)
    if base.is_file():
        raise UsageError("expected a page-set directory, got a file", base)
    pairs = _from_manifest(base) if (base / MANIFEST).is_file() else _from_tree(base)
    return [pair for pair in pairs if split is None or pair.split == split]
