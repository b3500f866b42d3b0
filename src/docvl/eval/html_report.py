"""`docvl eval --html report.html`: one self-contained page to look at bench results, worst pages first.

Per bench page: the page image (PNG rendered with pypdfium2, embedded as a data URL), then one column per
output folder or checkpoint with the Markdown it wrote rendered (Markdown and HTML tables as tables,
formulas kept as their LaTeX source in a monospace box so they stay readable), and under it the unit tests
it failed with their explanations. With gold Markdown for the page, the gold is shown beside the outputs and
each output's text marks what differs from it (`<del>` missing, `<ins>` extra). Pages are sorted by their
worst pass rate over the outputs, lowest first.

No JavaScript and no external resource: the file works offline and with scripts disabled. Model output is
untrusted, so its raw HTML is reduced to table and inline-format tags without attributes (spans kept).
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from docvl.scoring.bench import index_outputs
from docvl.scoring.mathmatch import find_equations

_ALLOWED_TAGS = frozenset(
    "table thead tbody tfoot tr td th caption br b i strong em sup sub u s code pre p ul ol li"
    " h1 h2 h3 h4 h5 h6 blockquote hr span div".split()
)
_KEPT_ATTRIBUTES = frozenset({"rowspan", "colspan"})
_VOID = frozenset({"br", "hr"})
_HOLD = "\ue000{}\ue001"  # private-use marks: survive Markdown rendering and HTML escaping unchanged
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin:0 0 .4em}
section.page{border-top:2px solid #888;padding:1em 0}
.row{display:flex;gap:1em;align-items:flex-start;overflow-x:auto}
.col{flex:1 1 0;min-width:18em;border:1px solid #ccc;padding:.5em;background:#fff}
.col.image{flex:0 0 26em;min-width:0} .image img{max-width:100%;border:1px solid #999}
.score{font-weight:bold} .bad{color:#b00} .good{color:#070}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #999;padding:2px 4px}
.math{font-family:monospace;background:#eef;padding:0 2px;white-space:pre-wrap}
del{background:#fcc} ins{background:#cfc;text-decoration:none}
ul.failed li{margin:.2em 0} .test-id{font-family:monospace}
.summary td,.summary th{padding:2px 8px}
"""


class _Sanitizer(HTMLParser):
    """Keeps allowed tags (no attributes but spans) and text; drops scripts, styles and everything else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "iframe", "object"):
            self._skip += 1
        elif tag in _ALLOWED_TAGS and not self._skip:
            kept = "".join(f' {k}="{html.escape(v or "")}"' for k, v in attrs if k in _KEPT_ATTRIBUTES)
            self.out.append(f"<{tag}{kept}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "iframe", "object"):
            self._skip = max(0, self._skip - 1)
        elif tag in _ALLOWED_TAGS and tag not in _VOID and not self._skip:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(html.escape(data, quote=False))


def sanitize(fragment: str) -> str:
    """Markup reduced to harmless tags; text escaped."""
    parser = _Sanitizer()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.out)


def render_markdown(text: str) -> str:
    """Markdown (with pipe and HTML tables) as safe HTML; formulas as escaped LaTeX in `.math` spans."""
    from markdown_it import MarkdownIt

    formulas: list[str] = []

    def hold(match: re.Match[str]) -> str:
        formulas.append(match.group(0))
        return _HOLD.format(len(formulas) - 1)

    equations = sorted(set(find_equations(text)), key=len, reverse=True)
    for equation in equations:
        for delimiters in (("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$"), ("$", "$")):
            pattern = re.escape(delimiters[0]) + r"\s*" + re.escape(equation) + r"\s*" + re.escape(delimiters[1])
            text = re.sub(pattern, hold, text)
    rendered = sanitize(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))
    return re.sub(
        _HOLD.format("(\\d+)"),
        lambda m: f'<span class="math">{html.escape(formulas[int(m.group(1))])}</span>',
        rendered,
    )


def mark_differences(gold: str, output: str) -> str:
    """The output's words with what the gold has and the output lacks in <del>, extra words in <ins>."""
    a, b = gold.split(), output.split()
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            parts.append(f"<del>{html.escape(' '.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{html.escape(' '.join(b[j1:j2]))}</ins>")
        if op == "equal":
            parts.append(html.escape(" ".join(a[i1:i2])))
    return " ".join(parts)


@dataclass
class PageView:
    """One bench page: its tests' verdicts per output, the text each output wrote, and the gold if any."""

    pdf: str
    page: int
    verdicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # output name -> test rows
    texts: dict[str, str | None] = field(default_factory=dict)
    gold: str | None = None

    def pass_rate(self, name: str) -> float:
        rows = self.verdicts.get(name, [])
        return sum(row["pass"] for row in rows) / len(rows) if rows else 1.0

    def worst(self) -> float:
        return min((self.pass_rate(name) for name in self.verdicts), default=1.0)


def _first_repeat(outputs: dict[tuple[str, int], list[Path]], pdf: str, page: int) -> str | None:
    paths = outputs.get((pdf.removesuffix(".pdf"), page))
    return paths[0].read_text(encoding="utf-8", errors="replace") if paths else None


def collect_pages(runs: list[dict[str, Any]], gold_dir: Path | None = None) -> list[PageView]:
    """Pages of the runs' bench results, worst first (ties: by PDF and page)."""
    pages: dict[tuple[str, int], PageView] = {}
    gold = index_outputs(gold_dir) if gold_dir else {}
    for run in runs:
        bench = run["bench"]
        outputs = index_outputs(Path(bench["outputs"])) if bench.get("outputs") else {}
        by_page: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for row in bench["tests"]:
            by_page[(row["pdf"], row["page"])].append(row)
        for (pdf, number), rows in by_page.items():
            view = pages.setdefault((pdf, number), PageView(pdf, number))
            view.verdicts[run["name"]] = rows
            view.texts[run["name"]] = _first_repeat(outputs, pdf, number)
            if view.gold is None and gold:
                view.gold = _first_repeat(gold, pdf, number)
    return sorted(pages.values(), key=lambda view: (view.worst(), view.pdf, view.page))


def _page_image(pdf: Path, page: int, longest_side: int) -> str:
    """A data URL of the page as PNG, or '' when the PDF cannot be rendered."""
    from docvl.errors import DocvlError
    from docvl.pdf import render_page

    try:
        image = render_page(pdf, page - 1, longest_side)
    except (DocvlError, OSError, ValueError):
        return ""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _column(name: str, view: PageView) -> str:
    rows = view.verdicts.get(name, [])
    rate = view.pass_rate(name)
    failed = [row for row in rows if not row["pass"]]
    text = view.texts.get(name)
    body = render_markdown(text) if text is not None else "<p><em>no output for this page</em></p>"
    parts = [
        f'<div class="col output"><h3>{html.escape(Path(name).name or name)}</h3>',
        f'<p class="score {"good" if rate == 1 else "bad"}">{len(rows) - len(failed)}/{len(rows)} tests passed</p>',
        f'<div class="markdown">{body}</div>',
    ]
    if view.gold is not None and text is not None:
        parts.append(f'<details open><summary>differences from the gold</summary><p class="diff">'
                     f"{mark_differences(view.gold, text)}</p></details>")  # fmt: skip
    if failed:
        items = "".join(
            f'<li><span class="test-id">{html.escape(row["id"])}</span> ({html.escape(row["type"])}): '
            f"{html.escape(row['explanation'])}</li>"
            for row in failed
        )
        parts.append(f'<h4>failed tests</h4><ul class="failed">{items}</ul>')
    parts.append("</div>")
    return "".join(parts)


def build_html(
    runs: list[dict[str, Any]], bench_dir: Path, gold_dir: Path | None = None, longest_side: int = 700
) -> str:
    """The whole report as one HTML string (see the module docstring)."""
    names = [run["name"] for run in runs]
    summary = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{run['bench']['overall']:.3f}</td>"
        f"<td>[{run['bench']['ci_low']:.3f}, {run['bench']['ci_high']:.3f}]</td></tr>"
        for name, run in zip(names, runs, strict=True)
    )
    sections = []
    for view in collect_pages(runs, gold_dir):
        image = _page_image(bench_dir / "pdfs" / view.pdf, view.page, longest_side)
        image_html = (
            f'<img alt="page {view.page} of {html.escape(view.pdf)}" src="{image}">' if image else "<p>(no image)</p>"
        )
        columns = [f'<div class="col image">{image_html}</div>']
        if view.gold is not None:
            columns.append(f'<div class="col gold"><h3>gold</h3>{render_markdown(view.gold)}</div>')
        columns += [_column(name, view) for name in names if name in view.verdicts]
        sections.append(
            f'<section class="page" id="{html.escape(view.pdf)}-{view.page}">'
            f"<h2>{html.escape(view.pdf)} page {view.page} (worst pass rate {view.worst():.0%})</h2>"
            f'<div class="row">{"".join(columns)}</div></section>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>docvl eval: {html.escape(str(bench_dir))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>olmOCR-bench report: {html.escape(str(bench_dir.resolve()))}</h1>"
        '<table class="summary"><tr><th>outputs</th><th>Average Score</th><th>95% CI</th></tr>'
        f"{summary}</table>{''.join(sections)}</body></html>\n"
    )


def write_html_report(path: Path, runs: list[dict[str, Any]], bench_dir: Path, gold_dir: Path | None = None) -> None:
    """Write `build_html` to `path` atomically."""
    from docvl.io import atomic_write_text

    atomic_write_text(path, build_html([run for run in runs if run.get("bench")], bench_dir, gold_dir))
