"""Tables in OCR output: HTML tables as trees (for TEDS) and HTML or Markdown tables as cell grids.

The TEDS tree parser is the standard library's, made forgiving the way browsers are: a `<td>` or `<tr>`
left open is closed by the next one, and text in inline tags (`<b>`, `<sup>`...) belongs to the cell
around it, with `<br>` read as a line break.

`TableGrid` answers olmOCR-bench's table questions the way its `table_parsing.py` does (allenai/olmocr
f7cfe4c): which cells are directly up/down/left/right of a cell (spanning cells count in every row and
column they cover, empty slots are skipped), and which heading cells lie above it or to its left (when
there is none, the cells at the end of the walk: the top row / leftmost cell). Grids of HTML tables
come from BeautifulSoup's `html.parser` tree, as in the reference, so malformed markup is read the
same way; Markdown pipe tables take their first row and first column as headings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SECTIONS = ("thead", "tbody", "tfoot")
_CELLS = ("td", "th")


@dataclass
class Node:
    """One element of an HTML table tree: table, thead/tbody/tfoot, tr, td or th."""

    tag: str
    colspan: int = 1
    rowspan: int = 1
    text: str = ""
    children: list[Node] = field(default_factory=list)


def _span(value: str | None) -> int:
    """rowspan/colspan as written; 0 keeps its HTML meaning 'to the end' (-1 here); junk counts as 1."""
    try:
        span = int(value) if value is not None else 1
    except ValueError:
        return 1
    if span == 0:
        return -1
    return span if span > 0 else 1


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Node] = []
        self._stack: list[Node] = []

    def _close_to(self, tags: tuple[str, ...]) -> None:
        """Pop open elements down to the innermost table, stopping below one of `tags`."""
        while self._stack and self._stack[-1].tag not in tags and self._stack[-1].tag != "table":
            self._stack.pop()

    def _open(self, node: Node) -> None:
        self._stack[-1].children.append(node)
        self._stack.append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            node = Node("table")
            if self._stack:
                self._open(node)
            else:
                self.tables.append(node)
                self._stack.append(node)
        elif not self._stack:
            return
        elif tag in _SECTIONS:
            self._close_to(())
            self._open(Node(tag))
        elif tag == "tr":
            self._close_to(_SECTIONS)
            self._open(Node("tr"))
        elif tag in _CELLS:
            self._close_to(("tr",))
            if self._stack[-1].tag != "tr":
                self._open(Node("tr"))
            spans = dict(attrs)
            self._open(Node(tag, colspan=_span(spans.get("colspan")), rowspan=_span(spans.get("rowspan"))))
        elif tag == "br":
            self.handle_data("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("table", "tr", *_SECTIONS, *_CELLS):
            return
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return
            if self._stack[depth].tag == "table":
                return

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1].tag in _CELLS:
            self._stack[-1].text += data


def parse_html_tables(html: str) -> list[Node]:
    """Every `<table>` in `html` as a tree (nested tables hang under their cell), in document order."""
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    return parser.tables


Slot = tuple[int, int]
CellSpec = tuple[str, int, int, bool]  # text, rowspan, colspan, is heading


@dataclass(frozen=True)
class TableGrid:
    """A table as cells keyed by their top-left (row, col), with neighbour relations as sets of cells."""

    cell_text: dict[Slot, str]
    heading_cells: set[Slot]
    is_rectangular: bool
    up_relations: dict[Slot, set[Slot]]
    down_relations: dict[Slot, set[Slot]]
    left_relations: dict[Slot, set[Slot]]
    right_relations: dict[Slot, set[Slot]]

    def _heading_walk(self, start: Slot, relation: dict[Slot, set[Slot]]) -> set[Slot]:
        """Heading cells reached by walking `relation` from `start`; without any, the cells where walks end."""
        headings: set[Slot] = set()
        ends: set[Slot] = set()
        todo = {start}
        while todo:
            cur = todo.pop()
            if cur in self.heading_cells:
                headings.add(cur)
            if relation.get(cur):
                todo |= relation[cur]
            else:
                ends.add(cur)
        return (headings - {start}) or (ends - {start})

    def top_heading_relations(self, row: int, col: int) -> set[Slot]:
        return self._heading_walk((row, col), self.up_relations)

    def left_heading_relations(self, row: int, col: int) -> set[Slot]:
        return self._heading_walk((row, col), self.left_relations)


def _place(rows: list[list[CellSpec]]) -> tuple[dict[Slot, tuple[str, int, int, bool]], list[list[Slot | None]]]:
    """Cells by top-left slot and the occupancy grid, placing cells the HTML way around running rowspans."""
    cells: dict[Slot, tuple[str, int, int, bool]] = {}
    grid: list[list[Slot | None]] = []
    running: list[tuple[Slot, int] | None] = []  # per column: the spanning cell and the rows it still covers

    def take_running(col: int, line: list[Slot | None]) -> None:
        cell, left = running[col]  # type: ignore[misc]
        line.append(cell)
        running[col] = (cell, left - 1) if left > 1 else None

    for r, specs in enumerate(rows):
        line: list[Slot | None] = []
        pending = list(specs)
        col = 0
        while pending or col < len(running):
            if col < len(running) and running[col] is not None:
                take_running(col, line)
                col += 1
                continue
            if not pending:
                line.append(None)
                col += 1
                continue
            text, rowspan, colspan, heading = pending.pop(0)
            rowspan, colspan = max(1, rowspan), max(1, colspan)
            cells[(r, col)] = (text, rowspan, colspan, heading)
            running.extend([None] * (col + colspan - len(running)))
            for c in range(col, col + colspan):
                line.append((r, col))
                running[c] = ((r, col), rowspan - 1) if rowspan > 1 else None
            col += colspan
        grid.append(line)
    while any(running):
        line = []
        for col in range(len(running)):
            if running[col] is None:
                line.append(None)
            else:
                take_running(col, line)
        grid.append(line)
    return cells, grid


def _first_other(grid: list[list[Slot | None]], cell: Slot, path: Iterable[Slot]) -> Slot | None:
    for r, c in path:
        other = grid[r][c]
        if other is not None and other != cell:
            return other
    return None


def build_grid(rows: list[list[CellSpec]]) -> TableGrid | None:
    """A TableGrid from rows of (text, rowspan, colspan, heading); None when it has no cell."""
    cells, grid = _place(rows)
    used = [c for line in grid for c, slot in enumerate(line) if slot is not None]
    if not cells or not used:
        return None
    width, height = max(used) + 1, len(grid)
    grid = [(line + [None] * width)[:width] for line in grid]
    relations: dict[str, dict[Slot, set[Slot]]] = {name: {cell: set() for cell in cells} for name in "udlr"}
    for (r0, c0), (_, rowspan, colspan, _) in cells.items():
        r1, c1, cell = r0 + rowspan - 1, c0 + colspan - 1, (r0, c0)
        paths = {
            "r": [[(r, c) for c in range(c1 + 1, width)] for r in range(r0, r1 + 1)],
            "l": [[(r, c) for c in range(c0 - 1, -1, -1)] for r in range(r0, r1 + 1)],
            "d": [[(r, c) for r in range(r1 + 1, height)] for c in range(c0, c1 + 1)],
            "u": [[(r, c) for r in range(r0 - 1, -1, -1)] for c in range(c0, c1 + 1)],
        }
        for name, walks in paths.items():
            for walk in walks:
                other = _first_other(grid, cell, walk)
                if other is not None:
                    relations[name][cell].add(other)
    return TableGrid(
        cell_text={cell: spec[0] for cell, spec in cells.items()},
        heading_cells={cell for cell, spec in cells.items() if spec[3]},
        is_rectangular=all(slot is not None for line in grid for slot in line),
        up_relations=relations["u"],
        down_relations=relations["d"],
        left_relations=relations["l"],
        right_relations=relations["r"],
    )


def _html_span(value: object) -> int:
    try:
        span = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return span if span > 0 else 1


def html_table_grids(html: str) -> list[TableGrid]:
    """Grids of every `<table>` (rows of nested tables count in the outer one too, as in the reference).

    `<th>` cells and cells under a `<thead>` are headings; `<br>` is a line break; rowspan="0" runs to
    the last row.
    """
    if "<table" not in html.lower():
        return []
    from bs4 import BeautifulSoup

    grids = []
    for table in BeautifulSoup(html, "html.parser").find_all("table"):
        trs = table.find_all("tr")
        rows: list[list[CellSpec]] = []
        for r, tr in enumerate(trs):
            in_head = tr.find_parent("thead") is not None
            row = []
            for cell in tr.find_all(["th", "td"], recursive=False):
                for br in cell.find_all("br"):
                    br.replace_with("\n")
                raw_rowspan = cell.get("rowspan")
                rowspan = _html_span(raw_rowspan)
                if isinstance(raw_rowspan, str) and raw_rowspan.strip() == "0":
                    rowspan = max(1, len(trs) - r)
                text = cell.get_text(separator="").strip()
                row.append((text, rowspan, _html_span(cell.get("colspan")), cell.name == "th" or in_head))
            rows.append(row)
        grid = build_grid(rows) if rows else None
        if grid:
            grids.append(grid)
    return grids


def _pipe_rows(lines: list[str]) -> list[list[str]]:
    """Cell texts of a run of pipe lines, without the `|---|` separator (olmOCR-bench's reading)."""

    def is_rule(line: str) -> bool:
        body = line.replace("|", "").strip()
        return bool(body) and all(ch in "- :" for ch in body)

    separator = next((i for i, line in enumerate(lines) if is_rule(line)), None)
    rows = []
    for i, line in enumerate(lines):
        if i == separator or (line.strip() and all(ch in "- :|" for ch in line)):
            continue
        cells = [cell.strip() for cell in line.split("|")]
        if cells and cells[0] == "":
            cells = cells[1:]
        if cells and cells[-1] == "":
            cells = cells[:-1]
        if cells:
            rows.append(cells)
    return rows


def markdown_table_grids(markdown: str) -> list[TableGrid]:
    """Grids of Markdown pipe tables: runs of two or more lines containing '|'.

    The first row and the first column are headings, as olmOCR-bench assumes for Markdown.
    """
    runs: list[list[str]] = []
    current: list[str] = []
    for line in [*markdown.strip().split("\n"), ""]:
        if "|" in line:
            current.append(line)
            continue
        if len(current) >= 2:
            runs.append(current)
        current = []
    grids = []
    for run in runs:
        rows = _pipe_rows(run)
        specs = [[(text, 1, 1, r == 0 or c == 0) for c, text in enumerate(row)] for r, row in enumerate(rows)]
        grid = build_grid(specs)
        if grid:
            grids.append(grid)
    return grids
