"""Does a trained checkpoint read held-out synthetic pages? The issue-11 targets, measured with the real commands.

Converts the held-out split of a synthetic page set with `docvl convert --model CKPT` (the model's own replies,
the text-layer fallback counted apart), then again with every page replaced by a blank page of the same size,
scores the generated unit tests with `docvl eval --bench PAGES/bench --outputs`, and prints one JSON object:

- parsed: share of pages whose reply was accepted (front matter parsed; not the fallback);
- rotation_detected: share of turned pages whose effective rotation_correction matches the gold one;
- cer / cer_blank: pooled character error rate of the body (edit distance over gold length), real vs blank images;
- bench: share of generated unit tests passed.

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/synthetic_learning.py CKPT PAGES [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from docvl.infer import read_results
from docvl.page import parse_page
from docvl.pdf import PdfFile
from docvl.results import PageResult
from docvl.scoring.metrics import levenshtein
from docvl.scoring.normalize import normalize_text
from docvl.scoring.pages import effective_front_matter


def _docvl(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "docvl", *args], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"docvl {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def blank_copy(pdfs: list[Path], target: Path) -> None:
    """Blank pages of the same sizes, under the same names."""
    from reportlab.pdfgen.canvas import Canvas

    target.mkdir(parents=True, exist_ok=True)
    for pdf in pdfs:
        with PdfFile(pdf) as source:
            size = source.page_size(0)
        canvas = Canvas(str(target / pdf.name), pagesize=size, invariant=1)
        canvas.showPage()
        canvas.save()


def convert(checkpoint: Path, source: Path, out: Path) -> dict[str, PageResult]:
    """Page result per PDF stem, from `docvl convert --model`."""
    _docvl("convert", str(source), "--model", str(checkpoint), "--out", str(out), "--json", "--workers", "1")
    return {Path(path).stem: record.pages[0] for path, record in read_results(out).items() if record.pages}


def measure(checkpoint: Path, pages: Path, work: Path) -> dict[str, Any]:
    gold = {md.stem: parse_page(md.read_text()) for md in sorted((pages / "eval").glob("*.md"))}
    blank_dir = work / "blank-pdfs"
    blank_copy(sorted((pages / "eval").glob("*.pdf")), blank_dir)
    real = convert(checkpoint, pages / "eval", work / "converted")
    blank = convert(checkpoint, blank_dir, work / "converted-blank")

    def cer(records: dict[str, PageResult]) -> float:
        distance = length = 0
        for stem, page in gold.items():
            record = records.get(stem)
            text = record.text if record and not record.fallback else ""
            reference = normalize_text(page.text)
            distance += levenshtein(normalize_text(text), reference)
            length += len(reference)
        return distance / length if length else 0.0

    turned = [stem for stem, page in gold.items() if page.front_matter.rotation_correction]
    detected = 0
    for stem in turned:
        record = real.get(stem)
        if record and not record.fallback and record.front_matter:
            effective = effective_front_matter(record.front_matter, record.rotation)
            detected += effective.rotation_correction == gold[stem].front_matter.rotation_correction
    outputs = work / "bench-outputs"
    shutil.rmtree(outputs, ignore_errors=True)
    outputs.mkdir(parents=True)
    for stem, record in real.items():
        (outputs / f"{stem}_pg1_repeat1.md").write_text("" if record.fallback else record.text, encoding="utf-8")
    bench = _docvl("eval", "--bench", str(pages / "bench"), "--outputs", str(outputs), "--json")["bench"]
    tests = bench["tests"]
    return {
        "pages": len(gold),
        "parsed": sum(not r.fallback for r in real.values()) / len(gold),
        "rotation_detected": detected / len(turned) if turned else None,
        "turned_pages": len(turned),
        "cer": round(cer(real), 4),
        "cer_blank": round(cer(blank), 4),
        "bench_tests_passed": round(sum(t["pass"] for t in tests) / len(tests), 4),
        "bench_overall": round(bench["overall"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("pages", type=Path, help="a page set made by `docvl prepare --kind synthetic`")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="docvl-synthetic-learning-"))
    print(json.dumps(measure(args.checkpoint, args.pages, work), indent=2))


if __name__ == "__main__":
    main()
