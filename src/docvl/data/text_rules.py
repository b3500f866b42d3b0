"""The training text rules: what a page's Markdown body must look like to be a good target.

Shared by `docvl validate` (which reports every violation) and the training pipeline's text-rule filter
(which drops the sample), so a page that validates is a page that trains. The rules follow olmOCR's
training data conventions: tables as HTML (never Markdown pipe tables), math only inside `\\( \\)` or
`\\[ \\]` and renderable by KaTeX, no LaTeX commands or LaTeX table environments in running text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from docvl import latex

_FENCED_CODE = re.compile(r"^```.*?^```[ \t]*$", re.DOTALL | re.MULTILINE)
_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$")
_LATEX_TABLE_ENV = re.compile(r"\\begin\{(table\*?|tabular[x*]?|longtable)\}")
_DOLLAR_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?=\S)([^$\n]*?[\\^_{}][^$\n]*?)(?<=\S)\$(?!\d)", re.DOTALL)
_OUTSIDE_COMMAND = re.compile(
    r"\\(textbf|textit|emph|underline|frac|dfrac|sqrt|sum|int|alpha|beta|gamma|delta|theta|lambda|mu|sigma|pi|"
    r"times|cdot|leq|geq|neq|section|subsection|cite|ref|label|begin|end|mathbf|mathrm|left|right|hline)\b"
    r"|\\[a-zA-Z]+\{"
)
_MATH_SPAN = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.DOTALL)
_TABLE_TAGS = {"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col"}
_VOID_TAGS = {"col", "br", "img", "hr"}
_ALLOWED_PARENTS = {
    "tr": {"table", "thead", "tbody", "tfoot"},
    "td": {"tr"},
    "th": {"tr"},
    "thead": {"table"},
    "tbody": {"table"},
    "tfoot": {"table"},
    "caption": {"table"},
}


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _snippet(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _TableChecker(HTMLParser):
    """Walks the HTML of a page and records the first structural problem in each table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def _where(self) -> str:
        return f"line {self.getpos()[0]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TABLE_TAGS or tag in _VOID_TAGS:
            return
        parents = _ALLOWED_PARENTS.get(tag)
        table_parents = [t for t in self.stack if t in _TABLE_TAGS]
        if parents is not None and (not table_parents or table_parents[-1] not in parents):
            inside = f"<{table_parents[-1]}>" if table_parents else "no table"
            self.problems.append(f"<{tag}> inside {inside} at {self._where()}")
        for name, value in attrs:
            if name in ("rowspan", "colspan") and not (value or "").strip().isdigit():
                self.problems.append(f"{name}={value!r} is not a number at {self._where()}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _TABLE_TAGS or tag in _VOID_TAGS:
            return
        if tag not in self.stack:
            self.problems.append(f"</{tag}> without an opening tag at {self._where()}")
            return
        while self.stack:
            top = self.stack.pop()
            if top == tag:
                return
            if top in ("td", "th") and tag in ("tr", "table", "tbody", "thead"):
                continue  # an unclosed cell before its row ends is common, valid HTML
            self.problems.append(f"<{top}> closed by </{tag}> at {self._where()}")
            return

    def close(self) -> None:
        super().close()
        open_tables = [t for t in self.stack if t in ("table", "tr", "thead", "tbody")]
        if open_tables:
            self.problems.append(f"<{open_tables[0]}> is never closed")


def _without_code(body: str) -> str:
    """Fenced code blocks are literal text: blank them out (keeping line numbers) before the rules look."""
    return _FENCED_CODE.sub(lambda m: "\n" * m.group(0).count("\n"), body)


def check_text_rules(body: str) -> list[tuple[str, str]]:
    """Every rule violation in a page body, as (check name, one-line message). Empty means the body is good."""
    text = _without_code(body)
    problems: list[tuple[str, str]] = []

    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if _PIPE_SEPARATOR.match(line) and number > 1 and _PIPE_ROW.match(lines[number - 2]):
            problems.append(("markdown_table", f"Markdown pipe table at line {number - 1}: tables must be HTML"))
            break

    if "<table" in text or "</table" in text or "<tr" in text:
        checker = _TableChecker()
        checker.feed(text)
        checker.close()
        if checker.problems:
            problems.append(("html_table", f"malformed HTML table: {checker.problems[0]}"))

    env = _LATEX_TABLE_ENV.search(text)
    if env:
        problems.append(
            ("latex_table", f"LaTeX \\begin{{{env.group(1)}}} at line {_line_of(text, env.start())}: use HTML")
        )

    dollar = _DOLLAR_MATH.search(text)
    if dollar:
        problems.append(
            (
                "math_delimiters",
                f"math in dollar signs at line {_line_of(text, dollar.start())} "
                f"({_snippet(dollar.group(0))}): use \\( \\) or \\[ \\]",
            )
        )

    opens = text.count("\\(") + text.count("\\[")
    closes = text.count("\\)") + text.count("\\]")
    if opens != closes:
        problems.append(("math_delimiters", f"unbalanced math delimiters: {opens} opening, {closes} closing"))

    for match in _MATH_SPAN.finditer(text):
        inner, display = (match.group(1), False) if match.group(1) is not None else (match.group(2), True)
        reason = latex.explain(inner, display=display)
        if reason:
            line = _line_of(text, match.start())
            problems.append(("latex_renders", f"LaTeX does not render at line {line}: {reason} in {_snippet(inner)}"))
            break

    outside = _MATH_SPAN.sub(lambda m: " " * len(m.group(0)), text)
    command = _OUTSIDE_COMMAND.search(outside)
    if command and not env:
        line = _line_of(outside, command.start())
        problems.append(("latex_outside_math", f"LaTeX command {command.group(0)!r} outside math at line {line}"))
    return problems
