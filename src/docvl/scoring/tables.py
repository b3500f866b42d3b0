"""Tables in OCR output: HTML tables as trees (for TEDS) and HTML or Markdown tables as cell grids.

The HTML parser is the standard library's, made forgiving the way browsers are: a `<td>` or `<tr>`
left open is closed by the next one, and text in inline tags (`<b>`, `<sup>`...) belongs to the cell
around it, with `<br>` read as a line break.

`Grid` answers olmOCR-bench's table questions: which cells are directly up/down/left/right of a
cell, and which heading cells lie above it or to its left. Spanning cells occupy every slot they
cover, so a cell next to a rowspan sees it in each of its rows, and a colspan header is the top
heading of every column under it.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Cell:
    """A cell placed on the grid: its text, top-left slot, extent and whether it is a heading."""

    text: str
    row: int
    col: int
    rowspan: int
    colspan: int
    heading: bool


class Grid:
    """A table as slots; each slot holds the index of the cell covering it."""

    def __init__(self, rows: list[list[tuple[str, int, int, bool]]]) -> None:
        """Place rows of (text, rowspan, colspan, heading) the HTML way: skip slots taken by spans."""
        self.cells: list[Cell] = []
        self.slots: dict[tuple[int, int], int] = {}
        for r, row in enumerate(rows):
            c = 0
            for text, rowspan, colspan, heading in row:
                while (r, c) in self.slots:
                    c += 1
                height = len(rows) - r if rowspan < 0 else rowspan
                width = 1 if colspan < 0 else colspan
                index = len(self.cells)
                self.cells.append(Cell(text, r, c, height, width, heading))
                for dr in range(height):
                    for dc in range(width):
                        self.slots.setdefault((r + dr, c + dc), index)
                c += width
        self.height = 1 + max((r for r, _ in self.slots), default=-1)
        self.width = 1 + max((c for _, c in self.slots), default=-1)

    def _walk(self, index: int, d_row: int, d_col: int, *, first_only: bool) -> set[int]:
        """Cells met walking from every slot of cell `index` in one direction, beyond the cell itself."""
        cell = self.cells[index]
        if d_row:
            starts = [
                (cell.row + (cell.rowspan - 1 if d_row > 0 else 0), c) for c in range(cell.col, cell.col + cell.colspan)
            ]
        else:
            starts = [
                (r, cell.col + (cell.colspan - 1 if d_col > 0 else 0)) for r in range(cell.row, cell.row + cell.rowspan)
            ]
        found: set[int] = set()
        for r, c in starts:
            r, c = r + d_row, c + d_col
            while 0 <= r < self.height and 0 <= c < self.width:
                other = self.slots.get((r, c))
                if other is not None and other != index:
                    found.add(other)
                    if first_only:
                        break
                r, c = r + d_row, c + d_col
        return found

    def neighbours(self, index: int, direction: str) -> set[int]:
        """Cells directly 'up', 'down', 'left' or 'right' of a cell (empty slots are skipped)."""
        d_row, d_col = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}[direction]
        return self._walk(index, d_row, d_col, first_only=True)

    def headings(self, index: int, direction: str) -> set[int]:
        """Every heading cell above ('top') or to the left ('left') of a cell."""
        d_row, d_col = {"top": (-1, 0), "left": (0, -1)}[direction]
        return {i for i in self._walk(index, d_row, d_col, first_only=False) if self.cells[i].heading}


def _rows_of(table: Node) -> list[tuple[Node, bool]]:
    """The table's own rows in order, each with whether it sits in a `<thead>`."""
    rows = []
    for child in table.children:
        if child.tag == "tr":
            rows.append((child, False))
        elif child.tag in _SECTIONS:
            rows.extend((tr, child.tag == "thead") for tr in child.children if tr.tag == "tr")
    return rows


def _all_tables(nodes: list[Node]) -> list[Node]:
    found = []
    for node in nodes:
        if node.tag == "table":
            found.append(node)
        found.extend(_all_tables(node.children))
    return found


def html_grids(html: str) -> list[Grid]:
    """Grids of every HTML table, nested ones included; `<th>` and `<thead>` cells are headings."""
    grids = []
    for table in _all_tables(parse_html_tables(html)):
        rows = [
            [
                (cell.text.strip(), cell.rowspan, cell.colspan, cell.tag == "th" or in_head)
                for cell in tr.children
                if cell.tag in _CELLS
            ]
            for tr, in_head in _rows_of(table)
        ]
        grid = Grid(rows)
        if grid.cells:
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


def markdown_grids(markdown: str) -> list[Grid]:
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
        grid = Grid([[(text, 1, 1, r == 0 or c == 0) for c, text in enumerate(row)] for r, row in enumerate(rows)])
        if grid.cells:
            grids.append(grid)
    return grids
