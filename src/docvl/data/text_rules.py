"""The training text rules: what a page's Markdown body must look like to be a good target.

Shared by `docvl validate` (which reports every violation) and the training pipeline's text-rule filter
(which drops the sample), so a page that validates is a page that trains. The rules follow olmOCR's
training data conventions: tables as HTML (never Markdown pipe tables), math only inside `\\( \\)` or
`\\[ \\]` and renderable by KaTeX, no LaTeX commands or LaTeX table environments in running text.
"""

from __future__ import annotations

import re

from docvl import latex

_FENCED_CODE = re.compile(r"^```.*?^```[ \t]*$", re.DOTALL | re.MULTILINE)
# a pipe row followed by a separator row (`|---|:--:|`): the start of a Markdown table
_PIPE_TABLE = re.compile(
    r"^[ \t]*\|.*\|[ \t]*\n[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", re.M
)
_LATEX_TABLE_ENV = re.compile(r"\\begin\{(table\*?|tabular[x*]?|longtable)\}")
_DOLLAR_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$\w])\$(?=\S)([^$\n]*?[\\^_{}][^$\n]*?)(?<=\S)\$(?!\d)", re.DOTALL)
_OUTSIDE_COMMAND = re.compile(
    r"\\(textbf|textit|emph|underline|frac|dfrac|sqrt|sum|int|alpha|beta|gamma|delta|theta|lambda|mu|sigma|pi|"
    r"times|cdot|leq|geq|neq|section|subsection|cite|ref|label|begin|end|mathbf|mathrm|left|right|hline)\b"
    r"|\\[a-zA-Z]+\{"
)
_TABLE_TAG = re.compile(r"<(/?)(table|thead|tbody|tfoot|tr|td|th|caption|colgroup|col)\b([^>]*)>", re.IGNORECASE)
_SPAN_ATTR = re.compile(r"\b(rowspan|colspan)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)
_VOID_TAGS = {"col"}
_IMPLIED_CLOSE = {"td": ("td", "th"), "th": ("td", "th"), "tr": ("td", "th", "tr")}
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


def _table_problem(text: str) -> str | None:
    """The first structural problem of the HTML tables in `text`, found by scanning table tags only.

    A regex scan over the table tags is much faster than `html.parser` on table-heavy pages, and the structure
    rules only need the tags: nesting, closing order, numeric spans. Line numbers are found only for a problem.
    """
    tags = _TABLE_TAG.findall(text)

    def where(index: int) -> str:
        match = next(m for i, m in enumerate(_TABLE_TAG.finditer(text)) if i == index)
        return f"line {_line_of(text, match.start())}"

    stack: list[str] = []
    for index, (slash, name, attrs) in enumerate(tags):
        tag = name.lower()
        if tag in _VOID_TAGS:
            continue
        if not slash:
            implied = _IMPLIED_CLOSE.get(tag, ())
            while stack and stack[-1] in implied:  # <td>a<td>b and <tr>..<tr> close the open cell or row
                stack.pop()
            parents = _ALLOWED_PARENTS.get(tag)
            if parents is not None and (not stack or stack[-1] not in parents):
                inside = f"<{stack[-1]}>" if stack else "no table"
                return f"<{tag}> inside {inside} at {where(index)}"
            if "span" in attrs:
                for attr, value in _SPAN_ATTR.findall(attrs):
                    if not value.strip("\"' ").isdigit():
                        return f"{attr}={value} is not a number at {where(index)}"
            stack.append(tag)
            continue
        if tag not in stack:
            return f"</{tag}> without an opening tag at {where(index)}"
        while stack:
            top = stack.pop()
            if top == tag:
                break
            if top in ("td", "th") and tag in ("tr", "table", "tbody", "thead", "tfoot"):
                continue  # an unclosed cell before its row ends is common, valid HTML
            return f"<{top}> closed by </{tag}> at {where(index)}"
    unclosed = [tag for tag in stack if tag in ("table", "tr", "thead", "tbody")]
    return f"<{unclosed[0]}> is never closed" if unclosed else None


def _without_code(body: str) -> str:
    """Fenced code blocks are literal text: blank them out (keeping line numbers) before the rules look."""
    return _FENCED_CODE.sub(lambda m: "\n" * m.group(0).count("\n"), body)


def check_text_rules(body: str) -> list[tuple[str, str]]:
    """Every rule violation in a page body, as (check name, one-line message). Empty means the body is good.

    Each rule first tests for the one character it needs (`|`, `<`, `$`, `\\`), so plain prose costs a few
    substring searches: `validate` runs this on every page.
    """
    text = _without_code(body)
    problems: list[tuple[str, str]] = []

    if "|" in text:
        pipe = _PIPE_TABLE.search(text)
        if pipe:
            line = _line_of(text, pipe.start())
            problems.append(("markdown_table", f"Markdown pipe table at line {line}: tables must be HTML"))

    table_problem = _table_problem(text) if "<t" in text or "</t" in text else None
    if table_problem:
        problems.append(("html_table", f"malformed HTML table: {table_problem}"))

    if "$" in text:
        dollar = _DOLLAR_MATH.search(text)
        if dollar:
            line = _line_of(text, dollar.start())
            problems.append(
                (
                    "math_delimiters",
                    f"math in dollar signs at line {line} ({_snippet(dollar.group(0))}): use \\( \\) or \\[ \\]",
                )
            )

    if "\\" not in text:
        return problems
    env = _LATEX_TABLE_ENV.search(text)
    if env:
        problems.append(
            ("latex_table", f"LaTeX \\begin{{{env.group(1)}}} at line {_line_of(text, env.start())}: use HTML")
        )

    scan = latex.scan_math(text)
    for offset, what in ((scan.unclosed, "is never closed"), (scan.stray, "closes no math")):
        if offset is not None:
            delimiter = text[offset : offset + 2]
            problems.append(("math_delimiters", f"math delimiter {delimiter} at line {_line_of(text, offset)} {what}"))

    for start, _end, inner, display in scan.spans:
        reason = latex.explain(inner, display=display)
        if reason:
            line = _line_of(text, start)
            problems.append(("latex_renders", f"LaTeX does not render at line {line}: {reason} in {_snippet(inner)}"))
            break

    outside = text
    for start, end, _inner, _display in reversed(scan.spans):
        outside = outside[:start] + " " * (end - start) + outside[end:]
    if scan.unclosed is not None:
        outside = outside[: scan.unclosed]
    command = _OUTSIDE_COMMAND.search(outside)
    if command and not env:
        line = _line_of(outside, command.start())
        problems.append(("latex_outside_math", f"LaTeX command {command.group(0)!r} outside math at line {line}"))
    return problems
