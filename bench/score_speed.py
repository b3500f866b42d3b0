"""How fast does docvl score an olmOCR-bench directory? Prints one line: tests scored per second.

    python bench/score_speed.py [--pages 60] [--repeats 1] [--seed 0] [--keep DIR]

It writes a synthetic bench (random prose pages with typos, HTML and Markdown tables with spans,
formulas, headings, emphasis, footnotes; tests of every type, about half of which should fail) into a
temporary directory, then times `score_bench` on it. The same generator serves to compare verdicts with
the reference scorer (`bench/olmocr_agreement.py --synthetic N`).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from docvl.scoring import score_bench

_WORDS = (
    "the model reads each page and writes markdown with tables formulas and headings while keeping "
    "reading order intact across columns footnotes captions and running headers of scanned reports"
).split()
_FORMULAS = [
    r"\frac{a}{b} + c^{2}",
    r"\sum_{i=1}^{n} x_i^2",
    r"E = mc^2",
    r"\int_0^1 f(x)\,dx",
    r"\alpha \leq \beta",
    r"\sqrt{x^2 + y^2}",
]
_MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _typo(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        chars[rng.randrange(len(chars))] = rng.choice("xyzq")
    return "".join(chars)


def _html_table(rng: random.Random, tag: str) -> tuple[str, list[list[str]]]:
    """A 4x4 table whose first column spans two rows; returns markup and the cell grid."""
    head = [f"H{tag}{c}" for c in range(4)]
    body = [[f"v{tag}{r}{c}{rng.randint(10, 99)}" for c in range(4)] for r in range(4)]
    body[1][0] = body[0][0]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r, row in enumerate(body):
        cells = [f'<td rowspan="2">{row[0]}</td>'] if r % 2 == 0 else []
        cells += [f"<td>{text}</td>" for text in row[1:]]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>", [head, *body]


def _markdown_table(rng: random.Random, tag: str) -> tuple[str, list[list[str]]]:
    grid = [[f"M{tag}{c}" for c in range(3)]] + [
        [f"m{tag}{r}{c}{rng.randint(10, 99)}" for c in range(3)] for r in range(3)
    ]
    lines = ["| " + " | ".join(row) + " |" for row in grid]
    lines.insert(1, "|---|---|---|")
    return "\n".join(lines), grid


def _page(rng: random.Random, tag: str) -> tuple[list[str], list[dict[str, object]]]:
    """The Markdown blocks of one page and the tests written against them."""
    sentences = [_sentence(rng, rng.randint(8, 20)) for _ in range(40)]
    html, html_grid = _html_table(rng, tag)
    md, md_grid = _markdown_table(rng, tag)
    formulas = rng.sample(_FORMULAS, 3)
    tests: list[dict[str, object]] = []
    for i in range(6):
        text = sentences[rng.randrange(40)][:60]
        tests.append({"type": "present", "text": text, "max_diffs": rng.choice([0, 0, 2])})
        tests.append({"type": "absent", "text": _typo(rng, text, 4), "max_diffs": 0})
        a, b = sorted(rng.sample(range(40), 2))
        pair = (a, b) if i % 2 else (b, a)
        tests.append(
            {
                "type": "order",
                "before": sentences[pair[0]][:40],
                "after": sentences[pair[1]][:40],
                "max_diffs": rng.choice([0, 1]),
            }
        )
    for r, c in ((2, 2), (3, 1), (1, 3)):
        tests.append(
            {
                "type": "table",
                "cell": html_grid[r][c],
                "up": html_grid[r - 1][c],
                "left": html_grid[r][c - 1],
                "top_heading": html_grid[0][c],
            }
        )
    for r, c in ((1, 1), (2, 0)):
        tests.append(
            {
                "type": "table",
                "cell": md_grid[r][c],
                "right": md_grid[r][c + 1],
                "top_heading": md_grid[0][c],
            }
        )
    for formula in formulas:
        tests.append({"type": "math", "math": formula})
    tests.append({"type": "math", "math": r"\frac{\pi}{2} \neq 0"})
    heading, bold, italic = (_sentence(rng, 6) for _ in range(3))
    tests += [
        {"type": "format", "format": "heading", "text": heading[:30]},
        {"type": "format", "format": "bold", "text": bold[:30], "max_diffs": 1},
        {"type": "format", "format": "italic", "text": bold[:30]},  # bold, not italic: fails
        {"type": "format", "format": "italic", "text": italic.upper(), "case_sensitive": False},
        {"type": "footnote", "marker": "1", "appears_before_marker": "the claim"},
        {"type": "footnote", "marker": "2", "appears_after_marker": "with a tail"},
        {"type": "footnote", "marker": "3"},  # no such marker: fails
    ]
    blocks = list(sentences)
    blocks.insert(30, f"## {heading}")
    blocks.insert(31, f"Some **{bold}** and *{italic}* here.")
    blocks.insert(32, "Here is the claim[^1] that continues<sup>2</sup> with a tail.\n\n[^1]: The footnote.")
    blocks.insert(10, html)
    blocks.insert(20, md)
    blocks.insert(5, f"\\[{formulas[0]}\\]")
    blocks.insert(15, f"inline \\({formulas[1]}\\) and $${formulas[2].replace('^2', '^{2}')}$$")
    return blocks, tests


def _render(rng: random.Random, blocks: list[str], typo_rate: float) -> str:
    """One generation of a page: some prose blocks get a one-character error."""
    prose = [b if b[0] in "<|\\i" or rng.random() >= typo_rate else _typo(rng, b, 1) for b in blocks]
    return "\n\n".join(prose)


def make_synthetic_bench(root: Path, pages: int, repeats: int, seed: int) -> tuple[Path, Path]:
    """Write a bench directory and a candidate outputs folder inside it; return both paths."""
    rng = random.Random(seed)
    bench, outputs = root / "bench", root / "bench" / "candidate"
    (bench / "pdfs").mkdir(parents=True)
    outputs.mkdir()
    files: dict[str, list[str]] = {}
    for p in range(pages):
        stem = f"doc{p:04d}"
        (bench / "pdfs" / f"{stem}.pdf").write_bytes(_MINIMAL_PDF)
        blocks, tests = _page(rng, f"{p}")
        for k in range(1, repeats + 1):
            (outputs / f"{stem}_pg1_repeat{k}.md").write_text(_render(rng, blocks, 0.2), encoding="utf-8")
        for n, test in enumerate(tests):
            record = {"pdf": f"{stem}.pdf", "page": 1, "id": f"{stem}_{n:02d}", "max_diffs": 0, **test}
            files.setdefault(f"{test['type']}.jsonl", []).append(json.dumps(record))
    for name, lines in files.items():
        (bench / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bench, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the synthetic bench here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        bench, outputs = make_synthetic_bench(root, args.pages, args.repeats, args.seed)
        start = time.perf_counter()
        report = score_bench(bench, outputs)
        elapsed = time.perf_counter() - start
    count = len(report.tests)
    print(
        f"score_speed: {count} tests x {args.repeats} repeats in {elapsed:.2f}s"
        f" = {count / elapsed:.0f} tests/s (overall {report.overall:.3f}, {len(report.problems)} problems)"
    )


if __name__ == "__main__":
    main()
