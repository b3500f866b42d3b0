"""The page-set layout on disk, in one place: where pairs live and how they are found.

    PAGESET/
      docvl.yaml         the resolved config that made it
      manifest.jsonl     one record per page: id, doc_id, page, split, pdf, md (paths relative to PAGESET)
      train/<id>.pdf  train/<id>.md
      eval/<id>.pdf   eval/<id>.md

A plain directory of `x.pdf` + `x.md` pairs (any depth, no manifest) is a page set too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from docvl.errors import OutsidePathError, UsageError
from docvl.io import inside

MANIFEST = "manifest.jsonl"
SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Pair:
    """One page of a page set. Either side may be missing (that is itself a finding of validate).

    A manifest row that cannot be used (not JSON, no `pdf`, a path leaving the page set) is a Pair with only
    `error` and `row` (`manifest.jsonl:LINE`) set: reported by validate and training, never opened or moved.
    """

    pdf: Path | None
    md: Path | None
    split: str | None = None
    labelled: bool = True
    error: str | None = None
    row: str | None = None
    key: str = ""  # the pair's path in its page set, without suffix: seeds its augmentation wherever the set lies

    @property
    def name(self) -> str:
        return str(self.row or self.md or self.pdf)


def manifest_row(root: Path, line: str) -> Pair:
    """The pair one manifest line names (OutsidePathError/ValueError when the line is unusable)."""
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    pdf, md = record.get("pdf"), record.get("md")
    if not isinstance(pdf, str) or not (md is None or isinstance(md, str)):
        raise ValueError("'pdf' must be a path and 'md' a path or null")
    paths: dict[str, Path | None] = {"pdf": None, "md": None}
    for key, value in (("pdf", pdf), ("md", md)):
        try:
            paths[key] = inside(root, value) if value is not None else None
        except OutsidePathError as exc:
            raise OutsidePathError(f"'{key}' {exc.message}") from None
    split = record.get("split")
    key = str(Path(md if md is not None else pdf).with_suffix(""))
    return Pair(paths["pdf"], paths["md"], split if isinstance(split, str) else None, labelled=md is not None, key=key)


def _from_manifest(root: Path) -> list[Pair]:
    manifest = root / MANIFEST
    pairs = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8", errors="replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            pairs.append(manifest_row(root, line))
        except OutsidePathError as exc:
            pairs.append(Pair(None, None, error=exc.message, row=f"{manifest}:{number}"))
        except ValueError as exc:
            pairs.append(Pair(None, None, error=f"not a manifest record ({exc})", row=f"{manifest}:{number}"))
    return pairs


def _from_tree(root: Path) -> list[Pair]:
    stems: dict[Path, dict[str, Path]] = {}
    for path in root.rglob("*"):
        suffix = path.suffix.lower()
        if suffix in (".pdf", ".md") and path.is_file() and not path.name.startswith("."):
            stems.setdefault(path.with_suffix(""), {})[suffix] = path
    pairs = []
    for stem, files in sorted(stems.items()):
        key = stem.relative_to(root)
        split = next((part for part in key.parts if part in SPLITS), None)
        pairs.append(Pair(pdf=files.get(".pdf"), md=files.get(".md"), split=split, key=str(key)))
    return pairs


def find_pairs(root: str | Path, split: str | None = None) -> list[Pair]:
    """The pairs of a page set (manifest when present, else every pdf/md pair found below `root`).
    Unusable manifest rows are kept whatever `split` asks for, so no caller can miss them."""
    base = Path(root)
    if not base.exists():
        raise UsageError("page set does not exist", base)
    if base.is_file():
        raise UsageError("expected a page-set directory, got a file", base)
    pairs = _from_manifest(base) if (base / MANIFEST).is_file() else _from_tree(base)
    return [pair for pair in pairs if split is None or pair.split == split or pair.error]
