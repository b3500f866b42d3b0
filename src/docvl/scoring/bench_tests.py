"""olmOCR-bench test types: present, absent, order, table, math, baseline.

Each test is built from one JSONL record (`load_test`), validated as olmOCR-bench validates it, and
judges one Markdown output with `run(output) -> (passed, explanation)`. Semantics follow olmocr
0.4.27 `olmocr/bench/tests.py`; `docvl.scoring.bench` lists where verdicts can differ.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from docvl.scoring.fuzzy import Threshold, match_starts, partial_ratio_reaches, ratio_reaches
from docvl.scoring.mathmatch import find_equations, formula_present
from docvl.scoring.normalize import bench_normalize
from docvl.scoring.tables import Grid, html_grids, markdown_grids


class BenchTestError(ValueError):
    """A JSONL record that is not a valid test; the message says which field and why."""


class Page:
    """One output page; the forms tests read (normalized text, tables, formulas) are computed once."""

    def __init__(self, markdown: str) -> None:
        self.markdown = markdown

    @cached_property
    def normalized(self) -> str:
        return bench_normalize(self.markdown)

    @cached_property
    def normalized_lower(self) -> str:
        return self.normalized.lower()

    @cached_property
    def markdown_tables(self) -> list[tuple[Grid, list[str]]]:
        return [(grid, [bench_normalize(c.text) for c in grid.cells]) for grid in markdown_grids(self.markdown)]

    @cached_property
    def html_tables(self) -> list[tuple[Grid, list[str]]]:
        return [(grid, [bench_normalize(c.text) for c in grid.cells]) for grid in html_grids(self.markdown)]

    @cached_property
    def equations(self) -> list[str]:
        return find_equations(self.markdown)

    @cached_property
    def equations_without_dollars(self) -> list[str]:
        return find_equations(self.markdown, include_dollars=False)


def _threshold(max_diffs: int, length: int, floor_half: bool = False) -> Threshold:
    """olmOCR-bench's `1 - max_diffs / len` as a fraction, optionally floored at 0.5 (tables)."""
    den = length or 1
    num = den - max_diffs
    return (1, 2) if floor_half and 2 * num < den else (num, den)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."


@dataclass(kw_only=True)
class BenchTest:
    """Fields every test has. `max_diffs` is the number of character edits tolerated."""

    types: ClassVar[tuple[str, ...]] = ()

    pdf: str
    page: int
    id: str
    type: str
    max_diffs: int = 0
    checked: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.pdf or not isinstance(self.pdf, str):
            raise BenchTestError("field 'pdf' must be a non-empty string")
        if not self.id or not isinstance(self.id, str):
            raise BenchTestError("field 'id' must be a non-empty string")
        if not isinstance(self.page, int) or isinstance(self.page, bool) or self.page < 1:
            raise BenchTestError(f"field 'page' must be a positive integer, got {self.page!r}")
        if not isinstance(self.max_diffs, int) or isinstance(self.max_diffs, bool) or self.max_diffs < 0:
            raise BenchTestError(f"field 'max_diffs' must be an integer >= 0, got {self.max_diffs!r}")

    def _normalize_field(self, name: str, required: bool) -> str:
        value = getattr(self, name)
        if not isinstance(value, str):
            raise BenchTestError(f"field '{name}' must be a string, got {value!r}")
        value = bench_normalize(value)
        if required and not value.strip():
            raise BenchTestError(f"field '{name}' cannot be empty")
        setattr(self, name, value)
        return value

    def run(self, output: str | Page) -> tuple[bool, str]:
        """Judge one output page: (passed, explanation of a failure or '')."""
        return self.check(output if isinstance(output, Page) else Page(output))

    def check(self, page: Page) -> tuple[bool, str]:
        raise NotImplementedError


@dataclass(kw_only=True)
class TextPresenceTest(BenchTest):
    """`present`: `text` occurs in the page within `max_diffs` edits; `absent`: it does not.

    "Occurs" is rapidfuzz partial_ratio >= 1 - max_diffs/len(text), as in olmOCR-bench. `first_n` /
    `last_n` restrict the search to the page's first / last characters (both: their concatenation).
    """

    types: ClassVar[tuple[str, ...]] = ("present", "absent")

    text: str
    case_sensitive: bool = True
    first_n: int | None = None
    last_n: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._normalize_field("text", required=True)

    def check(self, page: Page) -> tuple[bool, str]:
        query, content = self.text, page.normalized
        if not self.case_sensitive:
            query, content = query.lower(), page.normalized_lower
        if self.first_n and self.last_n:
            content = content[: self.first_n] + content[-self.last_n :]
        elif self.first_n:
            content = content[: self.first_n]
        elif self.last_n:
            content = content[-self.last_n :]
        present = self.type == "present"
        if len(content) < len(query) - self.max_diffs:
            found = False
        else:
            found = partial_ratio_reaches(query, content, _threshold(self.max_diffs, len(query)))
        if found == present:
            return True, ""
        verdict = "not found" if present else "found"
        return False, f"'{_short(query)}' {verdict} within {self.max_diffs} differences"


@dataclass(kw_only=True)
class TextOrderTest(BenchTest):
    """`order`: some match of `before` starts before some match of `after` (Levenshtein <= max_diffs)."""

    types: ClassVar[tuple[str, ...]] = ("order",)

    before: str
    after: str

    def __post_init__(self) -> None:
        super().__post_init__()
        before = self._normalize_field("before", required=True)
        after = self._normalize_field("after", required=True)
        if self.max_diffs > len(before) // 2 or self.max_diffs > len(after) // 2:
            raise BenchTestError("max_diffs is more than half of 'before' or 'after'")

    def check(self, page: Page) -> tuple[bool, str]:
        before = match_starts(self.before, page.normalized, self.max_diffs)
        if not before:
            return False, f"'before' text '{_short(self.before)}' not found within {self.max_diffs} edits"
        after = match_starts(self.after, page.normalized, self.max_diffs)
        if not after:
            return False, f"'after' text '{_short(self.after)}' not found within {self.max_diffs} edits"
        if before[0] < after[-1]:
            return True, ""
        return False, f"'{_short(self.before)}' does not appear before '{_short(self.after)}'"


_RELATIONS = (
    ("up", "neighbours", "up"),
    ("down", "neighbours", "down"),
    ("left", "neighbours", "left"),
    ("right", "neighbours", "right"),
    ("top_heading", "headings", "top"),
    ("left_heading", "headings", "left"),
)


@dataclass(kw_only=True)
class TableTest(BenchTest):
    """`table`: a cell matching `cell` exists whose neighbours match every relation given.

    Cells match by rapidfuzz ratio >= max(0.5, 1 - max_diffs/len(expected)). Relations: `up`,
    `down`, `left`, `right` (the adjacent cell; spans count in each row/column they cover) and
    `top_heading` / `left_heading` (any heading cell above / to the left). Markdown pipe tables are
    searched unless `ignore_markdown_tables`, HTML tables always.
    """

    types: ClassVar[tuple[str, ...]] = ("table",)

    cell: str
    up: str = ""
    down: str = ""
    left: str = ""
    right: str = ""
    top_heading: str = ""
    left_heading: str = ""
    ignore_markdown_tables: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._normalize_field("cell", required=False)
        for name, _, _ in _RELATIONS:
            self._normalize_field(name, required=False)

    def _matches(self, expected: str, text: str) -> bool:
        return ratio_reaches(expected, text, _threshold(self.max_diffs, len(expected), floor_half=True))

    def _unmet(self, grid: Grid, texts: list[str], index: int) -> list[str]:
        unmet = []
        for name, kind, direction in _RELATIONS:
            expected = getattr(self, name)
            if not expected:
                continue
            others = getattr(grid, kind)(index, direction)
            if not any(self._matches(expected, texts[other]) for other in others):
                seen = ", ".join(f"'{_short(texts[o])}'" for o in sorted(others)) or "no cell"
                unmet.append(f"{name} of '{_short(texts[index])}' is {seen}, expected '{_short(expected)}'")
        return unmet

    def check(self, page: Page) -> tuple[bool, str]:
        tables = page.html_tables if self.ignore_markdown_tables else page.markdown_tables + page.html_tables
        if not tables:
            return False, "no tables found"
        reasons: list[str] = []
        for grid, texts in tables:
            for index, text in enumerate(texts):
                if self._matches(self.cell, text):
                    unmet = self._unmet(grid, texts, index)
                    if not unmet:
                        return True, ""
                    reasons += unmet
        if not reasons:
            return False, f"no cell matching '{_short(self.cell)}' in any table"
        return False, "; ".join(reasons)


_DISALLOWED = re.compile(
    "[\u4e00-\u9fff\u3040-\u309f\u30a0-\u30ff"  # CJK ideographs, hiragana, katakana
    "\U0001f600-\U0001f64f\U0001f300-\U0001f5ff\U0001f680-\U0001f6ff\U0001f1e0-\U0001f1ff]"  # emoji
)
_IMAGE = re.compile(r"!\[.*?\]\(.*?\)")
_SPACE_RUNS = re.compile(r"\s+")


def _tail_repeats(text: str, size: int) -> int:
    """How many times the last `size` characters repeat back to back at the end of `text`."""
    target, count, pos = text[-size:], 0, len(text) - size
    while pos >= 0 and text[pos : pos + size] == target:
        count += 1
        pos -= size
    return count


@dataclass(kw_only=True)
class BaselineTest(BenchTest):
    """`baseline`: the page has alphanumerics, does not end in a loop, and has no CJK or emoji.

    With `max_length` it is a blank-page check instead: at most that many alphanumerics (image
    tags not counted when `max_length_skips_image_alt_tags`).
    """

    types: ClassVar[tuple[str, ...]] = ("baseline",)

    max_length: int | None = None
    max_length_skips_image_alt_tags: bool = False
    max_repeats: int = 30
    check_disallowed_characters: bool = True

    def check(self, page: Page) -> tuple[bool, str]:
        content = page.markdown
        if self.max_length is not None:
            counted = _IMAGE.sub("", content) if self.max_length_skips_image_alt_tags else content
            length = sum(ch.isalnum() for ch in counted)
            if length > self.max_length:
                return False, f"{length} characters were output for a page expected to be blank"
            return True, ""
        if not any(ch.isalnum() for ch in content):
            return False, "the text contains no alphanumeric characters"
        spaced = _SPACE_RUNS.sub(" ", content)
        for size in range(1, 6):
            count = _tail_repeats(spaced, size) if len(spaced) >= size else 0
            if count > self.max_repeats:
                return False, f"text ends with {count} repeating {size}-grams"
        if self.check_disallowed_characters and (found := _DISALLOWED.findall(content)):
            return False, f"text contains disallowed characters {found[:10]}"
        return True, ""


@dataclass(kw_only=True)
class MathTest(BenchTest):
    """`math`: the formula `math` is among the page's formulas (`\\( \\)`, `\\[ \\]`, `$$ $$`, `$ $`)."""

    types: ClassVar[tuple[str, ...]] = ("math",)

    math: str
    ignore_dollar_delimited: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.math, str) or not self.math.strip():
            raise BenchTestError("field 'math' must be a non-empty formula")

    def check(self, page: Page) -> tuple[bool, str]:
        equations = page.equations_without_dollars if self.ignore_dollar_delimited else page.equations
        if formula_present(self.math, equations):
            return True, ""
        return False, f"formula '{_short(self.math)}' not found among {len(equations)} formulas"


TEST_CLASSES: dict[str, type[BenchTest]] = {
    kind: cls for cls in (TextPresenceTest, TextOrderTest, TableTest, BaselineTest, MathTest) for kind in cls.types
}


def load_test(record: dict[str, Any]) -> BenchTest:
    """Build the test a JSONL record describes; BenchTestError says what is wrong with it."""
    kind = record.get("type")
    cls = TEST_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BenchTestError(f"unknown test type {kind!r} (known: {', '.join(sorted(TEST_CLASSES))})")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(record) - set(fields))
    if unknown:
        raise BenchTestError(f"unknown field(s) for a {kind} test: {', '.join(unknown)}")
    missing = [
        name
        for name, f in fields.items()
        if name not in record and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise BenchTestError(f"missing field(s) for a {kind} test: {', '.join(missing)}")
    return cls(**record)
