"""olmOCR-bench test types: present, absent, order, table, math, baseline, format, footnote.

Each test is built from one JSONL record (`load_test`), validated as olmOCR-bench validates it, and
judges one Markdown output with `run(output) -> (passed, explanation)`. Verdicts follow
allenai/olmocr at commit f7cfe4c (`olmocr/bench/tests.py`, same verdicts as release 0.4.27) and use
its libraries for fuzzy matching: rapidfuzz (`ratio`, `partial_ratio`) and fuzzysearch
(`find_near_matches`), with the same floating-point thresholds, so boundary cases agree by
construction. `docvl.scoring.bench` lists where verdicts can still differ (math only).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar

from rapidfuzz import fuzz

from docvl.scoring.mathmatch import find_equations, formula_present
from docvl.scoring.normalize import bench_normalize
from docvl.scoring.tables import TableGrid, html_table_grids, markdown_table_grids


class BenchTestError(ValueError):
    """A JSONL record that is not a valid test; the message says which field and why."""


class TestType(StrEnum):
    """The test types olmOCR-bench defines (the `type` field)."""

    __test__ = False

    BASELINE = "baseline"
    PRESENT = "present"
    ABSENT = "absent"
    ORDER = "order"
    TABLE = "table"
    MATH = "math"
    FORMAT = "format"
    FOOTNOTE = "footnote"


class TestChecked(StrEnum):
    """The `checked` field: whether a person verified or rejected the test."""

    __test__ = False

    VERIFIED = "verified"
    REJECTED = "rejected"


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
    def markdown_tables(self) -> list[tuple[TableGrid, dict[tuple[int, int], str]]]:
        return [(grid, _normalized_cells(grid)) for grid in markdown_table_grids(self.markdown)]

    @cached_property
    def html_tables(self) -> list[tuple[TableGrid, dict[tuple[int, int], str]]]:
        return [(grid, _normalized_cells(grid)) for grid in html_table_grids(self.markdown)]

    @cached_property
    def equations(self) -> list[str]:
        return find_equations(self.markdown)

    @cached_property
    def equations_without_dollars(self) -> list[str]:
        return find_equations(self.markdown, include_dollars=False)


def _normalized_cells(grid: TableGrid) -> dict[tuple[int, int], str]:
    return {slot: bench_normalize(text) for slot, text in grid.cell_text.items()}


def _threshold(max_diffs: int, length: int) -> float:
    """olmOCR-bench's `1 - max_diffs / len`, in floating point as there."""
    return 1.0 - max_diffs / (length if length > 0 else 1)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."


@dataclass(kw_only=True)
class BenchTest:
    """Fields every test has. `max_diffs` is the number of character edits tolerated."""

    __test__ = False
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
        if self.type not in {t.value for t in TestType}:
            raise BenchTestError(f"unknown test type {self.type!r}")
        if self.types and self.type not in self.types:
            raise BenchTestError(f"type {self.type!r} is not one of {', '.join(self.types)} for {type(self).__name__}")

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

    "Occurs" is rapidfuzz partial_ratio >= 1 - max_diffs/len(text), as in olmOCR-bench, with no guard
    for outputs shorter than the text (partial_ratio then aligns the output inside the text, so a
    near-empty output can pass `present`, there as here). `first_n` / `last_n` restrict the search to
    the page's first / last characters (both: their concatenation).
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
        threshold = _threshold(self.max_diffs, len(query))
        best = fuzz.partial_ratio(query, content) / 100.0
        present = self.type == "present"
        if (best >= threshold) == present:
            return True, ""
        if present:
            return False, f"'{_short(query)}' not found (best match ratio {best:.3f} < {threshold:.3f})"
        return False, f"'{_short(query)}' found (best match ratio {best:.3f} >= {threshold:.3f})"


@dataclass(kw_only=True)
class TextOrderTest(BenchTest):
    """`order`: some fuzzysearch match of `before` starts before some match of `after` (Levenshtein <= max_diffs)."""

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
        from fuzzysearch import find_near_matches

        before = find_near_matches(self.before, page.normalized, max_l_dist=self.max_diffs)
        if not before:
            return False, f"'before' text '{_short(self.before)}' not found within {self.max_diffs} edits"
        after = find_near_matches(self.after, page.normalized, max_l_dist=self.max_diffs)
        if not after:
            return False, f"'after' text '{_short(self.after)}' not found within {self.max_diffs} edits"
        if min(m.start for m in before) < max(m.start for m in after):
            return True, ""
        return False, f"'{_short(self.before)}' does not appear before '{_short(self.after)}'"


_RELATIONS = (
    ("up", lambda grid, slot: grid.up_relations[slot]),
    ("down", lambda grid, slot: grid.down_relations[slot]),
    ("left", lambda grid, slot: grid.left_relations[slot]),
    ("right", lambda grid, slot: grid.right_relations[slot]),
    ("left_heading", lambda grid, slot: grid.left_heading_relations(*slot)),
    ("top_heading", lambda grid, slot: grid.top_heading_relations(*slot)),
)


@dataclass(kw_only=True)
class TableTest(BenchTest):
    """`table`: a cell matching `cell` exists whose neighbours match every relation given.

    Cells match by rapidfuzz ratio >= max(0.5, 1 - max_diffs/len(expected)). Relations: `up`,
    `down`, `left`, `right` (the adjacent cells; spans count in each row/column they cover) and
    `top_heading` / `left_heading` (the heading cells above / to the left, or without any the cells
    at the end of the walk: the first row / the leftmost cell). Markdown pipe tables are searched
    unless `ignore_markdown_tables`, HTML tables always.
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
        for name, _ in _RELATIONS:
            self._normalize_field(name, required=False)

    def _similar(self, expected: str, text: str) -> float:
        return fuzz.ratio(expected, text) / 100.0

    def _threshold(self, expected: str) -> float:
        return max(0.5, _threshold(self.max_diffs, len(expected)))

    def _unmet(self, grid: TableGrid, texts: dict[tuple[int, int], str], slot: tuple[int, int]) -> list[str]:
        unmet = []
        for name, related in _RELATIONS:
            expected = getattr(self, name)
            if not expected:
                continue
            threshold = self._threshold(expected)
            scored = [(self._similar(expected, texts[other]), texts[other]) for other in related(grid, slot)]
            if not any(score >= threshold for score, _ in scored):
                best, text = max(scored, default=(0.0, None), key=lambda item: item[0])
                unmet.append(
                    f"{name} of '{_short(texts[slot])}': '{text}' doesn't match expected '{_short(expected)}' "
                    f"(best similarity: {best:.2f})"
                )
        return unmet

    def check(self, page: Page) -> tuple[bool, str]:
        tables = page.html_tables if self.ignore_markdown_tables else page.markdown_tables + page.html_tables
        if not tables:
            return False, "No tables found in the content"
        threshold = self._threshold(self.cell)
        reasons: list[str] = []
        for grid, texts in tables:
            for slot, text in texts.items():
                if self._similar(self.cell, text) >= threshold:
                    unmet = self._unmet(grid, texts, slot)
                    if not unmet:
                        return True, ""
                    reasons += unmet
        if not reasons:
            return False, f"No cell matching '{_short(self.cell)}' found in any table"
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
                return False, f"{length} characters were output for a page we expected to be blank"
            return True, ""
        if not any(ch.isalnum() for ch in content):
            return False, "The text contains no alpha numeric characters"
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
        return False, f"No match found for '{_short(self.math)}' among {len(equations)} formulas"


_FORMAT_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    # (patterns on the raw Markdown); each yields the formatted text as group 1
    "heading": (
        re.compile(r"^#{1,6}\s+(.+?)$", re.MULTILINE),
        re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.IGNORECASE | re.DOTALL),
    ),
    "bold": (
        re.compile(r"\*\*(.*?)\*\*", re.DOTALL),
        re.compile(r"__(.*?)__", re.DOTALL),
        re.compile(r"<b[^>]*>(.*?)</b>", re.IGNORECASE | re.DOTALL),
        re.compile(r"<strong[^>]*>(.*?)</strong>", re.IGNORECASE | re.DOTALL),
    ),
    "italic": (
        re.compile(r"(?<!\*)\*(?!\*)(.*?)(?<!\*)\*(?!\*)", re.DOTALL),
        re.compile(r"(?<!_)_(?!_)(.*?)(?<!_)_(?!_)", re.DOTALL),
        re.compile(r"<i[^>]*>(.*?)</i>", re.IGNORECASE | re.DOTALL),
        re.compile(r"<em[^>]*>(.*?)</em>", re.IGNORECASE | re.DOTALL),
    ),
}


@dataclass(kw_only=True)
class FormatTest(BenchTest):
    """`format`: `text` appears as a heading, in bold or in italics (Markdown or HTML markup).

    Every span with that formatting is normalized and compared with rapidfuzz partial_ratio against
    1 - max_diffs/len(text).
    """

    types: ClassVar[tuple[str, ...]] = ("format",)

    text: str
    format: str
    case_sensitive: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._normalize_field("text", required=True)
        if self.format not in _FORMAT_PATTERNS:
            raise BenchTestError(f"field 'format' must be one of {', '.join(_FORMAT_PATTERNS)}, got {self.format!r}")

    def check(self, page: Page) -> tuple[bool, str]:
        patterns = _FORMAT_PATTERNS[self.format]
        spans = [bench_normalize(m) for pattern in patterns for m in pattern.findall(page.markdown)]
        query = self.text
        if not self.case_sensitive:
            query, spans = query.lower(), [span.lower() for span in spans]
        threshold = _threshold(self.max_diffs, len(query))
        if any(fuzz.partial_ratio(query, span) / 100.0 >= threshold for span in spans):
            return True, ""
        found = ", ".join(f"'{_short(span)}'" for span in spans[:3]) or "none"
        return False, f"'{_short(self.text)}' not found with {self.format} formatting (found: {found})"


_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_FOOTNOTE_WINDOW = 200


def _alnum_lower(text: str) -> str:
    return "".join(ch for ch in bench_normalize(text) if ch.isalnum()).lower()


@dataclass(kw_only=True)
class FootnoteTest(BenchTest):
    """`footnote`: `marker` appears as `[^marker]`, `<sup>marker</sup>` or Unicode superscript digits.

    Optionally `appears_before_marker` ends the 200 characters before some marker occurrence and
    `appears_after_marker` starts the 200 after one (letters and digits only, lower case, rapidfuzz
    partial_ratio against a window twice the text's length).
    """

    types: ClassVar[tuple[str, ...]] = ("footnote",)

    marker: str
    appears_before_marker: str | None = None
    appears_after_marker: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.marker or not isinstance(self.marker, str):
            raise BenchTestError("field 'marker' is required")
        if " " in self.marker:
            raise BenchTestError("field 'marker' cannot contain whitespace")
        for name in ("appears_before_marker", "appears_after_marker"):
            if getattr(self, name):
                self._normalize_field(name, required=True)

    def _markers(self, content: str) -> list[tuple[int, int]]:
        marker = re.escape(self.marker)
        spans = [m.span() for m in re.finditer(rf"\[\^{marker}\](?!:)", content)]
        spans += [m.span() for m in re.finditer(rf"<sup[^>]*>{marker}</sup>", content, re.IGNORECASE)]
        if self.marker.isascii() and self.marker.isdigit():
            spans += [m.span() for m in re.finditer(re.escape(self.marker.translate(_SUPERSCRIPT_DIGITS)), content)]
        return spans

    def _near(self, expected: str, windows: list[str], at_end: bool) -> bool:
        target = _alnum_lower(expected)
        threshold = _threshold(self.max_diffs, len(expected))
        for window in windows:
            clean = _alnum_lower(window)
            if not clean:
                continue
            size = min(len(clean), len(target) * 2)
            part = (clean[-size:] if at_end else clean[:size]) if size > 0 else clean
            if fuzz.partial_ratio(target, part) / 100.0 >= threshold:
                return True
        return False

    def check(self, page: Page) -> tuple[bool, str]:
        content = page.markdown
        spans = self._markers(content)
        if not spans:
            return False, f"footnote marker '{self.marker}' not found as [^{self.marker}], <sup>, or superscript"
        failures = []
        before = self.appears_before_marker
        if before and not self._near(before, [content[max(0, s - _FOOTNOTE_WINDOW) : s] for s, _ in spans], True):
            failures.append(f"'{_short(before)}' not found before any marker '{self.marker}'")
        after = self.appears_after_marker
        if after and not self._near(after, [content[e : e + _FOOTNOTE_WINDOW] for _, e in spans], False):
            failures.append(f"'{_short(after)}' not found after any marker '{self.marker}'")
        return (False, "; ".join(failures)) if failures else (True, "")


TEST_CLASSES: dict[str, type[BenchTest]] = {
    kind: cls
    for cls in (TextPresenceTest, TextOrderTest, TableTest, BaselineTest, MathTest, FormatTest, FootnoteTest)
    for kind in cls.types
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
