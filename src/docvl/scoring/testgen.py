"""olmOCR-bench unit tests generated from a gold Markdown page: present, order, absent, table, math, baseline.

Works on any gold page (front matter optional): synthetic pages, converted pages a person checked, page sets
used for unit-test rewards. The records are what `docvl.scoring.bench_tests.load_test` reads and what an
olmOCR-bench `*.jsonl` holds, so `docvl eval --bench` scores them like the real bench.

- present: the first words of each text block (heading, paragraph, list item), a few edits tolerated;
- order: each block's opening words come before the next block's (both must be unique on the page);
- absent: texts the caller knows are drawn but are not content (running headers, page numbers), skipped when
  the same text is also in the gold body;
- table: cells with a unique text in their table, with their right (or left) neighbour and column heading;
- math: every formula (`\\[ \\]`, `\\( \\)`, `$$ $$`, `$ $`);
- baseline: one per page; a blank gold page asks for no alphanumerics at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from docvl.scoring.mathmatch import find_equations
from docvl.scoring.normalize import bench_normalize
from docvl.scoring.tables import TableGrid, html_table_grids, markdown_table_grids

EDITS_PER_CHAR = 0.05  # present/order tolerance: one edit per 20 characters of expected text
PRESENT_WORDS = 10
ORDER_WORDS = 6
MIN_ORDER_CHARS = 8

_HTML_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL | re.IGNORECASE)
_FORMULA = re.compile(r"\\\[.+?\\\]|\\\(.+?\\\)|\$\$.+?\$\$|\$.+?\$", re.DOTALL)
_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)")


def page_body(markdown: str) -> str:
    """The body of a page: the text after a front matter block when there is one, else all of it."""
    from docvl.errors import PageFormatError
    from docvl.page import parse_page

    try:
        return parse_page(markdown, strict=False).text
    except PageFormatError:
        return markdown.strip()


def text_units(body: str) -> list[str]:
    """Plain-text blocks in reading order: headings, paragraph lines and list items, markup stripped.

    Tables, formulas, pipe-table rows and images are left out (they have tests of their own)."""
    flat = _FORMULA.sub("\n\n", _HTML_TABLE.sub("\n\n", body))
    units = []
    for line in flat.splitlines():
        if not line.strip() or line.lstrip().startswith(("|", "![", "<")):
            continue
        text = " ".join(_EMPHASIS.sub("", _MARKER.sub("", line)).split())
        if any(ch.isalnum() for ch in text):
            units.append(text)
    return units


def _edits(text: str) -> int:
    return int(len(text) * EDITS_PER_CHAR)


def _words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


def _table_tests(grid: TableGrid) -> list[dict[str, Any]]:
    """Cells whose text is unique in their table, with one neighbour and their column heading."""
    texts = {slot: bench_normalize(text).strip() for slot, text in grid.cell_text.items()}
    values = list(texts.values())
    tests = []
    for slot in sorted(texts):
        if slot in grid.heading_cells or not texts[slot] or values.count(texts[slot]) > 1:
            continue
        test: dict[str, Any] = {"cell": texts[slot]}
        for direction, relation in (("right", grid.right_relations), ("left", grid.left_relations)):
            others = [texts[o] for o in sorted(relation.get(slot, ())) if texts.get(o)]
            if len(others) == 1:
                test[direction] = others[0]
                break
        headings = [texts[o] for o in sorted(grid.top_heading_relations(*slot)) if texts.get(o)]
        if headings:
            test["top_heading"] = headings[-1]
        if len(test) > 1:
            tests.append(test)
    return tests


def generate_tests(
    markdown: str,
    pdf: str,
    *,
    page: int = 1,
    absent: Sequence[str] = (),
    max_per_type: int = 8,
) -> list[dict[str, Any]]:
    """olmOCR-bench test records for one gold page. `pdf` is the PDF's path under the bench's `pdfs/`."""
    body = page_body(markdown)
    normalized = bench_normalize(body)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", pdf.removesuffix(".pdf"))
    tests: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        number = sum(1 for t in tests if t["type"] == kind) + 1
        tests.append({"pdf": pdf, "page": page, "id": f"{stem}_{kind}_{number:02d}", "type": kind, **fields})

    units = text_units(body)
    for unit in units[:max_per_type]:
        text = _words(unit, PRESENT_WORDS)
        add("present", text=text, max_diffs=_edits(text))
    openings = [_words(unit, ORDER_WORDS) for unit in units]
    pairs = [
        (before, after)
        for before, after in zip(openings, openings[1:], strict=False)
        if min(len(before), len(after)) >= MIN_ORDER_CHARS
        and normalized.count(bench_normalize(before)) == 1
        and normalized.count(bench_normalize(after)) == 1
    ]
    for before, after in pairs[:max_per_type]:
        add("order", before=before, after=after, max_diffs=min(_edits(before), _edits(after)))
    for text in absent:
        clean = " ".join(bench_normalize(text).split())
        if clean and clean.lower() not in normalized.lower():
            add("absent", text=clean, case_sensitive=False, max_diffs=0)
    table_tests = [t for grid in html_table_grids(body) + markdown_table_grids(body) for t in _table_tests(grid)]
    for fields in table_tests[:max_per_type]:
        add("table", max_diffs=0, **fields)
    for formula in find_equations(body)[:max_per_type]:
        add("math", math=formula, max_diffs=0)
    if any(ch.isalnum() for ch in body):
        add("baseline", max_diffs=0)
    else:
        add("baseline", max_diffs=0, max_length=0)
    return tests
