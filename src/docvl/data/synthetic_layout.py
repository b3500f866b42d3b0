"""Synthetic page content: a seeded plan of blocks, laid out on the page, with its exact gold Markdown.

A page is planned from its index and the `synthetic` config alone (no state between pages), so any page can be
re-planned later without rendering it (the unit tests of a page set are generated that way). Layout measures
text with the standard PDF font metrics that ship with reportlab, so what is drawn is exactly what the gold
Markdown says, in reading order: blocks top to bottom, the left column before the right one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from docvl.config import SyntheticConfig
from docvl.errors import ConfigError
from docvl.page import FrontMatter, Page, serialize_page
from docvl.wordlists import word_list

STANDARD_FONTS = ("Helvetica", "Times-Roman", "Courier")
BOLD = {"Helvetica": "Helvetica-Bold", "Times-Roman": "Times-Bold", "Courier": "Courier-Bold"}
# Formulas use Latin letters only: PDF readers without the Symbol font (pdfium among them) draw Greek as boxes.
MATH_FONT, MATH_OPERATOR_FONT = "Times-Italic", "Times-Roman"
LINE_SPACING = 1.3
BLOCK_GAP = 0.8  # of a body line, between blocks
COLUMN_GAP_PT = 18.0
ROTATIONS = (90, 180, 270)


@dataclass(frozen=True)
class TextRun:
    """Text drawn with its baseline starting at (x, y), in upright page coordinates (origin bottom left)."""

    x: float
    y: float
    text: str
    font: str
    size: float


@dataclass(frozen=True)
class Rule:
    """A line segment (table borders), in upright page coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class PagePlan:
    """Everything about one synthetic page: what to draw, how it is turned, and its gold Markdown."""

    index: int
    width: float
    height: float
    language: str | None
    rotation: int = 0
    image_only: bool = False
    runs: list[TextRun] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    furniture: list[str] = field(default_factory=list)  # header and footer texts: drawn, never in the gold text
    has_table: bool = False

    @property
    def markdown(self) -> str:
        """The gold page: canonical front matter and the blocks' Markdown in reading order."""
        front = FrontMatter(
            primary_language=self.language if self.blocks else None,
            is_rotation_valid=self.rotation == 0,
            rotation_correction=self.rotation,
            is_table=self.has_table,
        )
        return serialize_page(Page(front, "\n\n".join(self.blocks)))


def _width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


def check_config(cfg: SyntheticConfig) -> None:
    """Fail before generating anything when keys cannot work together; the message names the key."""
    words = word_list(cfg.language)
    for font in cfg.fonts:
        if font not in STANDARD_FONTS:
            raise ConfigError(
                f"synthetic.fonts: '{font}' is not a standard PDF font (one of {', '.join(STANDARD_FONTS)})"
            )
    if not cfg.fonts:
        raise ConfigError("synthetic.fonts: give at least one font")
    for word in words:
        try:
            word.encode("cp1252")
        except UnicodeEncodeError:
            raise ConfigError(
                f"synthetic.language: the standard PDF fonts cannot draw '{word}' of the '{cfg.language}' word list"
            ) from None
    for low, high in (("font_size_min", "font_size_max"), ("blocks_min", "blocks_max")):
        if getattr(cfg, low) > getattr(cfg, high):
            raise ConfigError(
                f"synthetic.{low}: {getattr(cfg, low)} is more than synthetic.{high} ({getattr(cfg, high)})"
            )
    if cfg.paragraph_words_min > cfg.paragraph_words_max:
        raise ConfigError("synthetic.paragraph_words_min: more than synthetic.paragraph_words_max")
    if cfg.table_ratio + cfg.list_ratio + cfg.math_ratio > 1:
        raise ConfigError("synthetic.table_ratio: table_ratio + list_ratio + math_ratio must not exceed 1")
    text_width = cfg.page_width_pt - 2 * cfg.margin_pt
    text_height = cfg.page_height_pt - 2 * cfg.margin_pt
    vocabulary = words[: cfg.vocabulary] if cfg.vocabulary else words
    longest = max(vocabulary, key=len)
    heading = cfg.font_size_max * cfg.heading_scale
    widest = max(_width(longest.title(), BOLD[font], heading) for font in cfg.fonts)
    if text_width <= 0 or text_height <= 0:
        raise ConfigError(f"synthetic.margin_pt: {cfg.margin_pt} pt margins leave no room on the page")
    if widest > text_width:
        raise ConfigError(
            f"synthetic.font_size_max: {cfg.font_size_max} pt leaves no room for text: the word '{longest}' as a "
            f"heading is {widest:.0f} pt wide, the text area {text_width:.0f} pt"
        )
    if heading * LINE_SPACING + cfg.font_size_max * LINE_SPACING > text_height:
        raise ConfigError(
            f"synthetic.font_size_max: {cfg.font_size_max} pt leaves no room for text in a {text_height:.0f} pt "
            "high text area"
        )


class _Words:
    """Seeded word and phrase source over the configured vocabulary."""

    def __init__(self, rng: random.Random, words: tuple[str, ...], numbers_ratio: float) -> None:
        self.rng, self.words, self.numbers_ratio = rng, words, numbers_ratio

    def take(self, count: int) -> list[str]:
        return [self.rng.choice(self.words) for _ in range(count)]

    def sentence(self, low: int, high: int) -> str:
        words = self.take(self.rng.randint(low, high))
        if self.rng.random() < self.numbers_ratio:
            words.insert(self.rng.randrange(len(words) + 1), str(self.rng.randint(1, 2030)))
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def title(self, low: int, high: int) -> str:
        words = self.take(self.rng.randint(low, high))
        return " ".join([words[0].capitalize(), *words[1:]])


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy line breaking at spaces; a word wider than the line gets a line of its own."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and _width(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


@dataclass
class _Drawn:
    """A block laid out at (0, 0) = its top-left corner, y growing downwards; placed later by the flow."""

    markdown: str
    height: float
    runs: list[TextRun] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    is_table: bool = False


def _lines_block(markdown: str, lines: list[str], font: str, size: float, indent: float = 0.0) -> _Drawn:
    leading = size * LINE_SPACING
    runs = [TextRun(indent, size + i * leading, line, font, size) for i, line in enumerate(lines)]
    return _Drawn(markdown, len(lines) * leading, runs)


def _heading(words: _Words, font: str, size: float, scale: float, width: float) -> _Drawn:
    level = 1 if words.rng.random() < 0.6 else 2
    text = words.title(2, 5)
    heading_size = size * (scale if level == 1 else (1 + scale) / 2)
    return _lines_block(f"{'#' * level} {text}", _wrap(text, BOLD[font], heading_size, width), BOLD[font], heading_size)


def _paragraph(words: _Words, cfg: SyntheticConfig, font: str, size: float, width: float) -> _Drawn:
    text = words.sentence(cfg.paragraph_words_min, cfg.paragraph_words_max)
    return _lines_block(text, _wrap(text, font, size, width), font, size)


def _list(words: _Words, cfg: SyntheticConfig, font: str, size: float, width: float) -> _Drawn:
    ordered = words.rng.random() < 0.4
    count = words.rng.randint(min(2, cfg.list_items_max), cfg.list_items_max)
    items = [words.sentence(1, max(1, min(8, cfg.paragraph_words_max))) for _ in range(count)]
    leading, indent = size * LINE_SPACING, size * 1.8
    drawn = _Drawn("\n".join(f"{i + 1}. {t}" if ordered else f"- {t}" for i, t in enumerate(items)), 0.0)
    for number, item in enumerate(items, start=1):
        marker = f"{number}." if ordered else "\u2022"
        drawn.runs.append(TextRun(0.0, drawn.height + size, marker, font, size))
        for line in _wrap(item, font, size, width - indent):
            drawn.runs.append(TextRun(indent, drawn.height + size, line, font, size))
            drawn.height += leading
    return drawn


def _table(words: _Words, cfg: SyntheticConfig, font: str, size: float, width: float) -> _Drawn:
    """A ruled grid: a heading row of words, then rows of a word followed by numbers (one line per cell)."""
    rng = words.rng
    rows, cols = rng.randint(2, cfg.table_rows_max), rng.randint(2, cfg.table_cols_max)
    size = size * 0.9
    cell_width, pad = width / cols, size * 0.4
    grid = [[w.capitalize() for w in words.take(cols)]]
    grid += [[words.take(1)[0], *(str(rng.randint(1, 9999)) for _ in range(cols - 1))] for _ in range(rows - 1)]
    while max(_width(cell, font, size) for row in grid for cell in row) > cell_width - 2 * pad:
        size *= 0.9  # shrink until the widest cell fits its column
        pad = size * 0.4
        if size < 3:
            raise ConfigError("synthetic.table_cols_max: table cells do not fit the column at any font size")
    row_height = size * 1.8
    drawn = _Drawn("", rows * row_height, is_table=True)
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            drawn.runs.append(
                TextRun(c * cell_width + pad, r * row_height + size * 1.25, cell, BOLD[font] if r == 0 else font, size)
            )
    drawn.rules += [Rule(0.0, r * row_height, width, r * row_height) for r in range(rows + 1)]
    drawn.rules += [Rule(c * cell_width, 0.0, c * cell_width, rows * row_height) for c in range(cols + 1)]
    head = "".join(f"<th>{cell}</th>" for cell in grid[0])
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in grid[1:])
    drawn.markdown = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return drawn


def _formula(rng: random.Random) -> list[tuple[str, str, str]]:
    """Terms of a formula as (LaTeX, drawn text, role); role is base, sup, sub, op or num."""
    parts: list[tuple[str, str, str]] = []
    for index in range(rng.randint(2, 4)):
        if index:
            op = "=" if index == 1 else rng.choice("+-")
            parts.append((op, op, "op"))
        if rng.random() < 0.3:
            number = str(rng.randint(2, 9))
            parts.append((number, number, "num"))
        letter = rng.choice("abcmxyzkn")
        parts.append((letter, letter, "base"))
        script = rng.random()
        if script < 0.3:
            value = rng.choice(["2", "3", "n", "k"])
            parts.append((f"^{{{value}}}", value, "sup"))
        elif script < 0.5:
            value = rng.choice(["0", "1", "i", "j"])
            parts.append((f"_{{{value}}}", value, "sub"))
    return parts


def _math(words: _Words, size: float, width: float) -> _Drawn:
    """A display formula drawn glyph by glyph (italic letters, upright numbers, raised and lowered scripts)."""
    parts = _formula(words.rng)
    runs: list[tuple[str, str, float, float]] = []  # text, font, size, baseline shift
    for _latex, text, role in parts:
        if role == "op":
            runs.append((f" {text} ", MATH_OPERATOR_FONT, size, 0.0))
        elif role == "num":
            runs.append((text, MATH_OPERATOR_FONT, size, 0.0))
        elif role == "base":
            runs.append((text, MATH_FONT, size, 0.0))
        else:
            script_font = MATH_FONT if text.isalpha() else MATH_OPERATOR_FONT
            runs.append((text, script_font, size * 0.7, size * 0.45 if role == "sup" else -size * 0.25))
    total = sum(_width(text, font, s) for text, font, s, _ in runs)
    x = max(0.0, (width - total) / 2)
    drawn = _Drawn("\\[" + " ".join(latex for latex, _, _ in parts).replace(" ^", "^").replace(" _", "_") + "\\]", 0.0)
    drawn.height = size * LINE_SPACING * 1.6
    for text, font, s, shift in runs:
        drawn.runs.append(TextRun(x, size * 1.25 - shift, text, font, s))
        x += _width(text, font, s)
    return drawn


class _Flow:
    """Places blocks down the columns of the text area; a block that fits nowhere ends the page."""

    def __init__(
        self, plan: PagePlan, left: float, top: float, bottom: float, width: float, columns: int, gap: float
    ) -> None:
        self.plan, self.top, self.bottom, self.gap = plan, top, bottom, gap
        self.column_width = (width - COLUMN_GAP_PT * (columns - 1)) / columns
        self.lefts = [left + i * (self.column_width + COLUMN_GAP_PT) for i in range(columns)]
        self.column, self.y = 0, top

    def place(self, block: _Drawn) -> bool:
        while self.column < len(self.lefts):
            start = self.y if self.y == self.top else self.y - self.gap
            if start - block.height >= self.bottom:
                left = self.lefts[self.column]
                self.plan.runs += [TextRun(left + r.x, start - r.y, r.text, r.font, r.size) for r in block.runs]
                self.plan.rules += [Rule(left + r.x0, start - r.y0, left + r.x1, start - r.y1) for r in block.rules]
                self.plan.blocks.append(block.markdown)
                self.plan.has_table |= block.is_table
                self.y = start - block.height
                return True
            self.column, self.y = self.column + 1, self.top
        return False


def _furniture(plan: PagePlan, words: _Words, cfg: SyntheticConfig, font: str, size: float) -> None:
    """A running header and a page number in the margins: drawn on the page, absent from the gold text."""
    small = size * 0.85
    if cfg.margin_pt < small * 1.5:
        return
    header = words.title(2, 4)
    number = words.rng.randint(2, 480)
    footer = words.rng.choice([f"Page {number}", f"- {number} -", f"{number} | {header}", f"p. {number}"])
    header_x = cfg.margin_pt if words.rng.random() < 0.5 else plan.width - cfg.margin_pt - _width(header, font, small)
    plan.runs.append(TextRun(header_x, plan.height - cfg.margin_pt / 2 - small / 2, header, font, small))
    footer_x = (plan.width - _width(footer, font, small)) / 2
    plan.runs.append(TextRun(footer_x, cfg.margin_pt / 2 - small / 2, footer, font, small))
    plan.furniture += [header, footer]


def plan_page(cfg: SyntheticConfig, index: int) -> PagePlan:
    """Plan page `index` of the set: the same config and index always give the same page."""
    rng = random.Random(f"docvl-synthetic:{cfg.seed}:{index}")
    vocabulary = word_list(cfg.language)
    words = _Words(rng, vocabulary[: cfg.vocabulary] if cfg.vocabulary else vocabulary, cfg.numbers_ratio)
    plan = PagePlan(index, cfg.page_width_pt, cfg.page_height_pt, cfg.language)
    plan.image_only = rng.random() < cfg.image_only_ratio
    plan.rotation = rng.choice(ROTATIONS) if rng.random() < cfg.rotated_ratio else 0
    if rng.random() < cfg.blank_ratio:
        return plan
    font = rng.choice(cfg.fonts)
    size = round(rng.uniform(cfg.font_size_min, cfg.font_size_max), 1)
    if rng.random() < cfg.header_footer_ratio:
        _furniture(plan, words, cfg, font, size)
    columns = 2 if rng.random() < cfg.two_column_ratio else 1
    width = cfg.page_width_pt - 2 * cfg.margin_pt
    flow = _Flow(plan, cfg.margin_pt, plan.height - cfg.margin_pt, cfg.margin_pt, width, columns, size * BLOCK_GAP)
    column_width = flow.column_width
    if columns == 2 and column_width < _width(max(words.words, key=len), BOLD[font], size * cfg.heading_scale):
        flow = _Flow(plan, cfg.margin_pt, plan.height - cfg.margin_pt, cfg.margin_pt, width, 1, size * BLOCK_GAP)
        column_width = width
    blocks = rng.randint(cfg.blocks_min, cfg.blocks_max)
    if rng.random() < cfg.heading_ratio and flow.place(_heading(words, font, size, cfg.heading_scale, column_width)):
        blocks -= 1
    for _ in range(max(blocks, 1)):
        draw = rng.random()
        if draw < cfg.table_ratio:
            block = _table(words, cfg, font, size, column_width)
        elif draw < cfg.table_ratio + cfg.list_ratio:
            block = _list(words, cfg, font, size, column_width)
        elif draw < cfg.table_ratio + cfg.list_ratio + cfg.math_ratio:
            block = _math(words, size * 1.2, column_width)
        else:
            block = _paragraph(words, cfg, font, size, column_width)
        if not flow.place(block):
            break
    return plan
