"""The eval report as rows of (metric, value, direction): one source for the table, the best marks and JSON.

A run is the dict `docvl.eval.run` builds per checkpoint (`sets`, `bench`). Rows are named
`<set> <metric>` and `bench <file>`; each knows whether lower or higher is better, so several checkpoints
side by side get the best value per row marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docvl.scoring.pages import FIELDS, FLAGS

Row = tuple[str, float | None, bool]  # (label, value, higher is better)


def metric_rows(run: dict[str, Any]) -> list[Row]:
    """Every number of one run worth comparing across checkpoints, in display order."""
    rows: list[Row] = []
    for name, s in run.get("sets", {}).items():
        rows += [
            (f"{name} loss", s["loss"], False),
            (f"{name} edit distance", s["edit_distance"], False),
            (f"{name} edit distance (pooled)", s["edit_distance_pooled"], False),
            *((f"{name} front matter: {field}", s["front_matter"].get(field), True) for field in FIELDS),
            *((f"{name} {flag.replace('_', ' ')} rate", s["rates"].get(flag), False) for flag in FLAGS),
            (f"{name} TEDS ({s['teds_pages']} pages)", s["teds"], True),
            (f"{name} pages/s", s["pages_per_s"], True),
            (f"{name} output tokens/s", s["tokens_per_s"], True),
        ]
    bench = run.get("bench")
    if bench:
        rows.append(("bench overall", bench["overall"], True))
        rows += [(f"bench {file}", score, True) for file, score in bench["per_file"].items()]
    return rows


def best_by_row(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Row label -> name of the run with the best value (rows with fewer than two values are not ranked)."""
    values: dict[str, list[tuple[float, str]]] = {}
    higher: dict[str, bool] = {}
    for run in runs:
        for label, value, up in metric_rows(run):
            higher[label] = up
            if value is not None:
                values.setdefault(label, []).append((value, run["name"]))
    best = {}
    for label, found in values.items():
        if len(found) > 1 and len({value for value, _ in found}) > 1:
            best[label] = (max if higher[label] else min)(found, key=lambda item: item[0])[1]
    return best


def _format(label: str, value: float | None, run: dict[str, Any]) -> str:
    if value is None:
        return "-"
    if label == "bench overall":
        bench = run["bench"]
        return f"{value:.3f} [{bench['ci_low']:.3f}, {bench['ci_high']:.3f}]"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def _short_names(runs: list[dict[str, Any]]) -> list[str]:
    short = [Path(run["name"]).name or run["name"] for run in runs]
    return short if len(set(short)) == len(short) else [run["name"] for run in runs]


def render_bench_table(runs: list[dict[str, Any]]) -> Any:
    """Bench-only runs (output folders) as rows: Average Score with its 95% interval, then each test file;
    the best value of each column is marked *. Rows keep many outputs readable in a narrow terminal."""
    from rich.table import Table

    best = best_by_row(runs)
    table = Table(title="olmOCR-bench" + (" (* best)" if best else ""))
    table.add_column("outputs", overflow="fold")
    table.add_column("Average Score [95% CI]", justify="right")
    files = list(dict.fromkeys(file for run in runs for file in run["bench"]["per_file"]))
    for file in files:
        table.add_column(file.removesuffix(".jsonl"), justify="right")
    for run, name in zip(runs, _short_names(runs), strict=True):
        bench = run["bench"]
        cells = [_format("bench overall", bench["overall"], run)]
        labels = ["bench overall"]
        for file in files:
            score = bench["per_file"].get(file)
            cells.append("-" if score is None else f"{score:.3f}")
            labels.append(f"bench {file}")
        marked = [
            f"[bold]{cell} *[/bold]" if best.get(label) == run["name"] else cell
            for cell, label in zip(cells, labels, strict=True)
        ]
        table.add_row(name, *marked)
    return table


def render_table(runs: list[dict[str, Any]]) -> Any:
    """A rich table: one row per metric, one column per run (headed by its folder name when those are unique);
    with several runs the best value of each row is marked *. Bench-only runs: `render_bench_table`."""
    from rich.table import Table

    if runs and all(run.get("bench") and not run.get("sets") for run in runs):
        return render_bench_table(runs)

    best = best_by_row(runs) if len(runs) > 1 else {}
    table = Table(title="docvl eval" + (" (* best)" if best else ""))
    table.add_column("metric")
    for name in _short_names(runs):
        table.add_column(name, justify="right", overflow="fold")
    labels: dict[str, None] = {}
    cells: dict[tuple[str, str], str] = {}
    for run in runs:
        for label, value, _ in metric_rows(run):
            labels.setdefault(label)
            text = _format(label, value, run)
            cells[(label, run["name"])] = f"[bold]{text} *[/bold]" if best.get(label) == run["name"] else text
    for label in labels:
        table.add_row(label, *(cells.get((label, run["name"]), "-") for run in runs))
    return table


def worst_lines(run: dict[str, Any]) -> list[str]:
    """The worst pages of each set of a run, one line each (edit distance, PDF, reference Markdown)."""
    lines = []
    for name, s in run.get("sets", {}).items():
        if s["worst"]:
            lines.append(f"worst pages of {run['name']} on {name}:")
            for page in s["worst"]:
                mark = "  (fallback)" if page["fallback"] else ""
                lines.append(f"  {page['edit_distance']:.3f}  {page['pdf']}  {page['md']}{mark}")
    return lines
