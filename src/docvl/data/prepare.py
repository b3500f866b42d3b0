"""`docvl prepare`: build a page set from PDFs, existing pairs, an olmOCR-mix dataset or converted output.

Documents are listed in the main process, assigned to train or eval by source document (deterministic for a
seed, so pages of one PDF never land on both sides), then loaded and written by worker processes. Every
finished document is appended to the manifest at once, so a killed run keeps its work and a re-run skips it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from docvl.config import DocvlConfig, PrepareConfig, save_config
from docvl.data.pageset import MANIFEST
from docvl.data.sources import DocRef, SourcePage, doc_id_for
from docvl.errors import PdfError, UsageError
from docvl.io import JsonlAppender, atomic_write_bytes, atomic_write_text, read_jsonl, sha256_bytes
from docvl.pdf import PdfFile
from docvl.results import RECORDS_DIR, RESULTS_GLOB
from docvl.system import interrupts_deferred, process_pool, usable_cpus

# In reverse order of preference when two sources hold the same PDF (labelled sources win).
SOURCE_MODULES = {
    "pdfs": "docvl.data.pdf_source",
    "converted": "docvl.data.converted",
    "olmocr-mix": "docvl.data.olmocr_mix",
    "pairs": "docvl.data.pairs_source",
    "synthetic": "docvl.data.synthetic",
}
KINDS = typing.get_args(PrepareConfig.model_fields["kind"].annotation)  # "auto" and every SOURCE_MODULES key
ERRORS_FILE = "prepare_errors.jsonl"


@dataclass
class PrepareSummary:
    docs: int = 0
    pages: int = 0
    skipped_docs: int = 0
    duplicates: int = 0
    failed: int = 0
    train: int = 0
    eval: int = 0
    seconds: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "errors"}
        data["seconds"] = round(self.seconds, 3)
        data["pages_per_s"] = round(self.pages / self.seconds, 2) if self.seconds else None
        data["errors"] = self.errors
        return data


def detect_kind(source: Path) -> str:
    """The source kind of a path: what a user would call it, decided from what is inside."""
    if not source.exists():
        if "/" in str(source) and not str(source).startswith((".", "/")):
            return "olmocr-mix"  # a hub id such as allenai/olmOCR-mix-1025
        raise UsageError("source does not exist", source)
    if source.is_file():
        if source.suffix.lower() == ".pdf":
            return "pdfs"
        raise UsageError("source file is not a PDF (give a directory for pairs or datasets)", source)
    if any(source.glob(RESULTS_GLOB)) or (source / RECORDS_DIR).is_dir():  # convert's folder, or a store's copy
        return "converted"
    if next(source.rglob("*.parquet"), None) is not None:
        return "olmocr-mix"
    if next(source.rglob("*.md"), None) is not None:
        return "pairs"
    if next((p for p in source.rglob("*") if p.suffix.lower() == ".pdf"), None) is not None:
        return "pdfs"
    raise UsageError("source holds no PDFs, pairs, parquet files or converted output", source)


def split_docs(doc_ids: list[str], eval_fraction: float, seed: int) -> set[str]:
    """The doc ids of the held-out split: the `round(n * f)` (at least one) with the smallest seeded hash."""
    if eval_fraction <= 0 or len(doc_ids) < 2:
        return set()
    count = min(len(doc_ids) - 1, max(1, round(len(doc_ids) * eval_fraction)))
    ranked = sorted(doc_ids, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest())
    return set(ranked[:count])


def _page_id(page: SourcePage, page_count: int) -> str:
    return page.doc_id if page_count == 1 else f"{page.doc_id}_p{page.page_number:04d}"


def _write_page(page: SourcePage, out: Path, split: str, page_count: int, link: bool) -> dict[str, Any]:
    page_id = _page_id(page, page_count)
    pdf_rel, md_rel = f"{split}/{page_id}.pdf", f"{split}/{page_id}.md"
    pdf_target = out / pdf_rel
    try:
        if page.pdf_path and link:
            pdf_target.parent.mkdir(parents=True, exist_ok=True)
            pdf_target.unlink(missing_ok=True)
            os.symlink(os.path.abspath(page.pdf_path), pdf_target)
        else:
            atomic_write_bytes(pdf_target, page.pdf if page.pdf is not None else Path(page.pdf_path).read_bytes())
        if page.markdown is not None:
            atomic_write_text(out / md_rel, page.markdown)
    except BaseException:
        pdf_target.unlink(missing_ok=True)  # half a pair is no pair: the manifest will not name it
        raise
    return {
        "id": page_id,
        "doc_id": page.doc_id,
        "page": page.page_number,
        "split": split,
        "pdf": pdf_rel,
        "md": md_rel if page.markdown is not None else None,
        "origin": page.origin,
        "source_sha256": page.source_sha256,
    }


def _check_size(page: SourcePage, max_page_inches: float) -> None:
    """The page-size rule (`data.max_page_inches`, the one validate, training and convert apply), checked where
    a page enters the set, so the error names the page of the source it came from."""
    try:
        with PdfFile(page.pdf if page.pdf is not None else Path(page.pdf_path or ""), name=page.origin,
                     max_page_inches=max_page_inches) as pdf:  # fmt: skip
            pdf.page_size(0, page_number=page.page_number)
    except PdfError as exc:
        page.error, page.check = exc.message, exc.check


def _process_doc(
    args: tuple[str, DocRef, Path, str, bool, float],
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Worker: load one document and write its good pages. Returns (manifest records, error records).

    Nothing a source row holds ends the run: a document that cannot be loaded is one error record, a page that
    cannot be written one more, and a page is in the records exactly when both its files were written.
    """
    module_name, ref, out, split, link, max_page_inches = args
    try:
        pages = importlib.import_module(module_name).load_doc(ref)
    except Exception as exc:  # a row no source check foresaw is still that document's error, never the run's
        return [], [
            {"path": ref.origin, "check": "source", "message": f"cannot be loaded ({type(exc).__name__}: {exc})"}
        ]
    records, errors = [], []
    for page in pages:
        if not page.error:
            _check_size(page, max_page_inches)
        if page.error:
            errors.append({"path": page.origin, "check": page.check or "source", "message": page.error})
            continue
        if page.source_sha256 is None:
            page.source_sha256 = sha256_bytes(page.pdf or b"")
        try:
            records.append(_write_page(page, out, split, len(pages), link))
        except (OSError, ValueError) as exc:
            errors.append({"path": page.origin, "check": "write", "message": f"cannot write the pair ({exc})"})
    return records, errors


def _source_key(ref: DocRef) -> str:
    """What identifies this version of a source document, to skip it when a re-run finds it unchanged."""
    try:
        stat = Path(ref.origin).stat()
        return f"{ref.kind}:{ref.doc_id}:{stat.st_size}:{stat.st_mtime_ns}"
    except (OSError, ValueError):  # not a file (a URL, a hub row), or a name no file can have (a NUL byte)
        return f"{ref.kind}:{ref.doc_id}:{sorted(ref.extra.items())}"


def prepare(
    sources: list[Path],
    out: Path,
    config: DocvlConfig,
    *,
    kind: str = "auto",
    eval_fraction: float = 0.1,
    seed: int = 0,
    jobs: int | None = None,
    link: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> PrepareSummary:
    """Build (or finish building) the page set `out` from `sources`."""
    if kind not in KINDS:
        raise UsageError(f"unknown source kind '{kind}' (choose from {', '.join(KINDS)})")
    started = time.perf_counter()
    if kind == "synthetic":  # generated from config.synthetic: there is no source path to read
        if sources:
            raise UsageError("--kind synthetic takes no sources (its keys are the config's `synthetic` section)")
        sources = [Path("synthetic")]
    elif not sources:
        raise UsageError("no sources given", hint="give PDF files or directories, pair folders or datasets")
    kinds = [(detect_kind(source) if kind == "auto" else kind, source) for source in sources]
    for source_kind, source in kinds:
        if source_kind not in ("olmocr-mix", "synthetic") and not source.exists():
            raise UsageError("source does not exist", source)
    refs: list[tuple[str, DocRef]] = []
    # Labelled sources first: when the same PDF comes labelled and unlabelled, the labelled copy is kept.
    for source_kind, source in sorted(kinds, key=lambda pair: list(SOURCE_MODULES).index(pair[0]), reverse=True):
        module_name = SOURCE_MODULES[source_kind]
        module = importlib.import_module(module_name)
        for ref in module.list_docs(config.synthetic) if source_kind == "synthetic" else module.list_docs(source):
            if len(sources) > 1:  # the same file name in two sources must not become the same page id
                ref = replace(ref, doc_id=f"{doc_id_for(source.name)}__{ref.doc_id}")
            refs.append((module_name, ref))

    out.mkdir(parents=True, exist_ok=True)
    made = PrepareConfig(kind=kind, eval_fraction=eval_fraction, seed=seed)
    save_config(config.model_copy(update={"prepare": made}), out)
    manifest_path = out / MANIFEST
    existing = [record for record in read_jsonl(manifest_path) if isinstance(record, dict)]
    done_keys = {record.get("source_key") for record in existing}
    seen_hashes = {record.get("source_sha256"): record.get("origin") for record in existing}
    eval_ids = split_docs(sorted({ref.doc_id for _, ref in refs}), eval_fraction, seed)

    summary = PrepareSummary(docs=len(refs))
    todo = []
    for module_name, ref in refs:
        if _source_key(ref) in done_keys:
            summary.skipped_docs += 1
            continue
        split = "eval" if ref.doc_id in eval_ids else "train"
        todo.append((module_name, ref, out, split, link, config.data.max_page_inches))
    if on_total:
        on_total(len(todo))

    error_path = out / ERRORS_FILE
    error_path.unlink(missing_ok=True)

    def consume(task: tuple[str, DocRef, Path, str, bool, float], result: tuple[list, list]) -> None:
        records, errors = result
        key = _source_key(task[1])
        for record in records:
            first = seen_hashes.get(record["source_sha256"])
            if first is not None and first != record["origin"]:
                summary.duplicates += 1
                for rel in (record["pdf"], record["md"]):
                    if rel:
                        (out / rel).unlink(missing_ok=True)
                errors.append({"path": record["origin"], "check": "duplicate", "message": f"same bytes as {first}"})
                continue
            seen_hashes.setdefault(record["source_sha256"], record["origin"])
            record["source_key"] = key
            manifest.write(record)
            summary.pages += 1
        for error in errors:
            error_log.write(error)
        summary.errors.extend(e for e in errors if e["check"] != "duplicate")
        summary.failed += sum(1 for e in errors if e["check"] != "duplicate")
        if progress:
            progress(1)

    jobs = jobs or usable_cpus()
    with JsonlAppender(manifest_path) as manifest, JsonlAppender(error_path) as error_log:
        if jobs == 1 or len(todo) <= 1:
            for task in todo:
                with interrupts_deferred():  # Ctrl-C between documents, not inside pdfium's callbacks
                    result = _process_doc(task)
                consume(task, result)
        else:
            chunk = max(1, min(16, len(todo) // (jobs * 4)))
            with process_pool(jobs) as pool:
                for task, result in zip(todo, pool.map(_process_doc, todo, chunksize=chunk), strict=True):
                    consume(task, result)

    final = [record for record in read_jsonl(manifest_path) if isinstance(record, dict)]
    final.sort(key=lambda r: (str(r.get("split")), str(r.get("id"))))
    atomic_write_text(manifest_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in final))
    if kind == "synthetic":
        from docvl.data.synthetic import write_bench, write_train_tests

        write_bench(out, config.synthetic, final)
        write_train_tests(out, config.synthetic, final)
    summary.train = sum(1 for r in final if r.get("split") == "train")
    summary.eval = sum(1 for r in final if r.get("split") == "eval")
    summary.seconds = time.perf_counter() - started
    return summary
