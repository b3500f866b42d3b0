"""Page sets with one pair for every kind of bad input, built at test time from the fixture pairs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from pdf_factory import HTML_AS_PDF, blank_pdf, encrypted_pdf, truncated_pdf

from docvl.pdf import PdfFile

GOOD_MD = (
    "---\nprimary_language: en\nis_rotation_valid: True\nrotation_correction: 0\n"
    "is_table: False\nis_diagram: False\n---\n"
)


def copy_good_pairs(fixtures_dir: Path, target: Path) -> list[str]:
    """The fixture pairs that pass every check, copied into `target`; returns their stems."""
    target.mkdir(parents=True, exist_ok=True)
    stems = ["edgar", "blanktext"]
    for stem in stems:
        for suffix in (".pdf", ".md"):
            shutil.copy(fixtures_dir / "pairs" / f"{stem}{suffix}", target / f"{stem}{suffix}")
            (target / f"{stem}{suffix}").chmod(0o644)
    return stems


def add_bad_pairs(fixtures_dir: Path, target: Path) -> dict[str, str]:
    """One pair per bad input; returns {file name that must be reported: expected check}."""
    good_pdf = (fixtures_dir / "pairs" / "edgar.pdf").read_bytes()
    pdfs = {
        "zero_bytes": (b"", "pdf_opens"),
        "truncated": (truncated_pdf(fixtures_dir / "pairs" / "edgar.pdf"), "pdf_opens"),
        "encrypted": (encrypted_pdf(fixtures_dir / "pairs" / "edgar.pdf"), "pdf_not_encrypted"),
        "html": (HTML_AS_PDF, "pdf_opens"),
        "no_pages": (blank_pdf(0), "pdf_page_count"),
        "hundred_pages": (blank_pdf(100), "pdf_page_count"),
        "huge_page": (blank_pdf(1, 14400, 612), "pdf_page_size"),
    }
    expected = {}
    for stem, (data, check) in pdfs.items():
        (target / f"{stem}.pdf").write_bytes(data)
        (target / f"{stem}.md").write_text(GOOD_MD + "text")
        expected[f"{stem}.pdf"] = check
    markdowns = {
        "latin1": ((GOOD_MD + "caf\xe9").encode("latin-1"), "md_utf8"),
        "missing_field": (GOOD_MD.replace("is_table: False\n", "").encode(), "front_matter"),
        "misspelled": (GOOD_MD.replace("is_diagram", "is_diagramm").encode(), "front_matter"),
        "rotation45": (GOOD_MD.replace("rotation_correction: 0", "rotation_correction: 45").encode(), "front_matter"),
        "pipe_table": ((GOOD_MD + "| a | b |\n|---|---|\n| 1 | 2 |").encode(), "markdown_table"),
        "bad_latex": ((GOOD_MD + "where \\(\\frac{a}{b\\) holds").encode(), "latex_renders"),
        "tabular": ((GOOD_MD + "\\begin{tabular}{cc} a & b \\end{tabular}").encode(), "latex_table"),
        "broken_html": ((GOOD_MD + "<table><tr><td>a</tr></td></table>").encode(), "html_table"),
    }
    for stem, (data, check) in markdowns.items():
        (target / f"{stem}.pdf").write_bytes(good_pdf)
        (target / f"{stem}.md").write_bytes(data)
        expected[f"{stem}.md"] = check
    (target / "orphan.md").write_text(GOOD_MD + "no pdf here")
    expected["orphan.md"] = "pair_complete"
    return expected


def text_layer_pages(fixtures_dir: Path, root: Path, names: tuple[str, ...], words: int) -> Path:
    """One-page pairs in `root` of the fixture PDFs `names`, each labelled with the first `words` words of its own
    text layer: real pages whose gold a model can learn a little of in a few steps."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        with PdfFile(fixtures_dir / "pdfs" / name) as pdf:
            (root / name).write_bytes(pdf.page_pdf_bytes(0))
            label = re.sub(r"[^A-Za-z0-9 .,]", " ", pdf.text(0)).split()[:words]
        (root / name).with_suffix(".md").write_text(GOOD_MD + " ".join(label), encoding="utf-8")
    return root
