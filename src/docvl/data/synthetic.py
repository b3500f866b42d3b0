"""`prepare --kind synthetic`: generated single-page PDFs with exact gold Markdown, and unit tests for them.

Pages come from templates (docvl.data.synthetic_layout) drawn with reportlab (docvl.data.synthetic_render),
seeded per page so a set is reproducible and resumable. Besides the page set, prepare writes
`OUT/bench/` in the olmOCR-bench layout (`synthetic.jsonl` + `pdfs/`) for the held-out pages (every page
when nothing is held out), so `docvl eval CKPT --bench OUT/bench` scores a model on them. The tests come
from the gold Markdown (docvl.scoring.testgen), plus `absent` tests for the header and page number drawn on
the page but left out of the gold text. `OUT/tests/` holds the training pages' tests in the same layout (for
reward training, docvl.data.page_tests), when some pages are held out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from docvl.config import SyntheticConfig
from docvl.data.sources import DocRef, SourcePage
from docvl.data.synthetic_layout import check_config, plan_page
from docvl.data.synthetic_render import render_plan

KIND = "synthetic"
BENCH_DIR = "bench"
BENCH_FILE = "synthetic.jsonl"
TESTS_DIR = "tests"  # the training pages' tests, same layout


def list_docs(cfg: SyntheticConfig) -> list[DocRef]:
    """One document per page to generate; the config travels with each ref so workers need nothing else."""
    check_config(cfg)
    spec = cfg.model_dump_json()
    return [
        DocRef(KIND, f"synthetic_{index:06d}", f"synthetic:{cfg.seed}:{index}", {"spec": spec, "index": str(index)})
        for index in range(cfg.pages)
    ]


def _config_of(ref: DocRef) -> SyntheticConfig:
    return SyntheticConfig.model_validate_json(ref.extra["spec"])


def load_doc(ref: DocRef) -> list[SourcePage]:
    """Plan and render one page. Its identity is the spec and index, so two blank pages are not duplicates."""
    cfg = _config_of(ref)
    plan = plan_page(cfg, int(ref.extra["index"]))
    identity = hashlib.sha256(f"{ref.extra['spec']}:{ref.extra['index']}".encode()).hexdigest()
    return [
        SourcePage(
            ref.doc_id,
            1,
            ref.origin,
            pdf=render_plan(plan, cfg.scan_dpi),
            markdown=plan.markdown,
            source_sha256=identity,
        )
    ]


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_bench(out: Path, cfg: SyntheticConfig, records: list[dict[str, Any]]) -> Path:
    """`OUT/bench/`: the held-out pages (all pages when none are held out) and their generated unit tests."""
    return _write_tests(out, out / BENCH_DIR, cfg, [r for r in records if r["split"] == "eval"] or records)


def write_train_tests(out: Path, cfg: SyntheticConfig, records: list[dict[str, Any]]) -> Path | None:
    """`OUT/tests/`: the training pages' unit tests (for reward training), in the same layout as the bench.

    Written here because the generator knows the texts drawn but left out of the gold (header, page number),
    which tests made later from the Markdown cannot. None when no page is held out (the bench has them all)."""
    train = [r for r in records if r["split"] == "train"]
    if len(train) == len(records):
        shutil.rmtree(out / TESTS_DIR, ignore_errors=True)
        return None
    return _write_tests(out, out / TESTS_DIR, cfg, train)


def _write_tests(out: Path, target: Path, cfg: SyntheticConfig, records: list[dict[str, Any]]) -> Path:
    """`target/synthetic.jsonl` with the records' generated unit tests, and their PDFs under `target/pdfs/`."""
    from docvl.scoring.testgen import generate_tests

    shutil.rmtree(target, ignore_errors=True)
    lines = []
    for record in records:
        plan = plan_page(cfg, int(record["origin"].rsplit(":", 1)[1]))
        pdf_name = f"{record['id']}.pdf"
        _link_or_copy(out / record["pdf"], target / "pdfs" / pdf_name)
        tests = generate_tests(plan.markdown, pdf_name, absent=plan.furniture)
        lines += [json.dumps(test, ensure_ascii=False) + "\n" for test in tests]
    target.mkdir(parents=True, exist_ok=True)
    (target / BENCH_FILE).write_text("".join(lines), encoding="utf-8")
    return target
