"""The image reaches the model: trained with the learnable tiny recipe (configs/tiny-learn.yaml) on synthetic pages,
the model reads held-out pages far better than it does when each page image is replaced by a blank page.

A wiring fault that keeps the page image from the loss (labels on the wrong span, image tokens misaligned, a
processor resizing differently at eval than in training) still lets the loss fall, from the text alone; it
cannot pass this test. Everything runs through the real commands: prepare, train, eval.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from docvl.pdf import PdfFile

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "tiny-learn.yaml"


def _docvl(*args: str, timeout: float = 600) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "docvl", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def _blank_twin(pages: Path, target: Path) -> None:
    """The held-out pairs with every PDF replaced by a blank page of the same size (same gold Markdown)."""
    from reportlab.pdfgen.canvas import Canvas

    target.mkdir(parents=True)
    for md in sorted((pages / "eval").glob("*.md")):
        shutil.copyfile(md, target / md.name)
        with PdfFile(md.with_suffix(".pdf")) as pdf:
            size = pdf.page_size(0)
        canvas = Canvas(str(target / f"{md.stem}.pdf"), pagesize=size, invariant=1)
        canvas.showPage()
        canvas.save()


@pytest.mark.slow
def test_trained_tiny_model_reads_pages_and_not_blank_images(tmp_path: Path, tiny_checkpoints: dict) -> None:
    pages, run = tmp_path / "pages", tmp_path / "run"
    _docvl("prepare", "--kind", "synthetic", "--config", str(CONFIG), "--out", str(pages), "--eval-fraction", "0.03")
    _docvl(
        "train",
        str(CONFIG),
        f"data.train=[{{name: synthetic, path: '{pages}'}}]",
        "data.eval=[]",
        f"train.output_dir={run}",
    )
    blank = tmp_path / "blank"
    _blank_twin(pages, blank)
    report = _docvl("eval", str(run / "final"), "--sets", f"real={pages}", "--sets", f"blank={blank}", "--json")
    real, blind = report["sets"]["real"], report["sets"]["blank"]
    assert real["pages"] == blind["pages"] >= 15
    assert real["rates"]["fallback"] <= 0.1  # the model's own replies, not the text layer
    assert real["edit_distance_pooled"] * 3 <= blind["edit_distance_pooled"], (real, blind)
