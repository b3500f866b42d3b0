"""Score pre-written Markdown outputs on an olmOCR-bench directory, without a browser or a model.

Layout (as olmOCR-bench's `benchmark.py` reads it):

* `BENCH/*.jsonl`: one test per line with `pdf` (path under `pdfs/`), `page` (1-based), `id`,
  `type`, `max_diffs` and the type's fields (see `docvl.scoring.bench_tests`);
* `BENCH/pdfs/**.pdf`: the documents;
* `OUTPUTS/<pdf path without .pdf>_pg<page>_repeat<k>.md`: one file per generation (repeat) of
  each page, at the same relative path as the PDF under `pdfs/`.

Scoring is olmOCR-bench's: a test passes when strictly more than half of its page's repeats pass it
(1 of 1, 2 of 3, but not 1 of 2); a JSONL file scores the fraction of its tests that pass; a PDF
without a `baseline` test gets one (id `<pdf>_baseline`, page 1) counted in a pseudo-file
`baseline`; the overall score is the mean of the per-file scores. The 95% confidence interval is the
same bootstrap as the reference (tests resampled within each file, 1000 draws, mean of the file
means, percentile bounds), with a fixed seed so that a report is reproducible.

Unlike the reference, bad input does not stop the run: a malformed JSONL line, an invalid or
unknown test, a duplicate id or a test whose PDF is missing is reported as one line in
`problems` (`file:line: ...`) and skipped; a page with no output is reported once and its tests fail.

Where our verdict can differ from olmOCR-bench
----------------------------------------------

Reference: allenai/olmocr at commit f7cfe4c22098b154c76b6ec950d1c0a464eecf8d (`olmocr/bench/tests.py`,
`table_parsing.py`, `benchmark.py`; the same verdicts as release 0.4.27). Its own unit tests
(`tests/test_tests.py`, `tests/test_table_parsing.py`) run against docvl in
`tests/test_olmocr_bench_tests.py` and `tests/test_olmocr_table_parsing.py`. Non-math verdicts use
the reference's libraries (rapidfuzz, fuzzysearch, BeautifulSoup's `html.parser`) with the same
normalization, thresholds (floats) and table model, so they agree test by test
(`bench/olmocr_agreement.py` measures it). What remains:

* math: the reference renders formulas with KaTeX in headless Chromium and compares MathML and
  glyph layout. We compare canonical parsed LaTeX (`docvl.scoring.mathmatch`): what renders the same
  is the same (font and style commands, sizing delimiters, spacing, redundant braces, `\\dfrac`);
  layouts that only coincide visually (different macros drawing the same glyphs, array layouts)
  can still differ. Formulas KaTeX cannot render are not rejected at load time here.
* loading: the reference stops at the first bad record; we report it and score the rest (below).
  A `page` must be a positive integer here; the reference does not check it.
* scoring: a page missing from the outputs fails its tests (the reference refuses to score the
  whole candidate); PDF pages without any test are not checked (that needs the PDF page count);
  the bootstrap uses a seeded generator (the reference's numpy one is unseeded) and draws each
  file's resampled pass count from its binomial distribution, which is the same distribution as
  resampling pass/fail values with replacement.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from docvl.errors import UsageError
from docvl.scoring.bench_tests import BaselineTest, BenchTest, BenchTestError, Page, load_test

_OUTPUT_NAME = re.compile(r"^(?P<stem>.+)_pg(?P<page>\d+)_repeat(?P<repeat>\d+)\.md$")
BASELINE_FILE = "baseline"


@dataclass
class BenchReport:
    """Scores of one set of outputs: overall (mean of per-file pass rates) with its 95% CI."""

    overall: float
    ci_low: float
    ci_high: float
    per_file: dict[str, float]
    tests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The report as indented JSON, for files and for other tools."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)


@dataclass
class LoadedTests:
    """Tests by JSONL file name, plus one line per record that could not be used."""

    by_file: dict[str, list[BenchTest]]
    problems: list[str]


def load_bench(bench_dir: Path) -> LoadedTests:
    """Read every `*.jsonl` of a bench directory; bad records become problems, not exceptions."""
    pdf_dir = bench_dir / "pdfs"
    pdfs = {p.relative_to(pdf_dir).as_posix() for p in pdf_dir.rglob("*.pdf")} if pdf_dir.is_dir() else set()
    by_file: dict[str, list[BenchTest]] = {}
    problems: list[str] = []
    seen_ids: dict[str, str] = {}
    for path in sorted(bench_dir.glob("*.jsonl")):
        tests = by_file.setdefault(path.name, [])
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            where = f"{path.name}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                problems.append(f"{where}: expected a JSON object, got {type(record).__name__}")
                continue
            try:
                test = load_test(record)
            except BenchTestError as exc:
                problems.append(f"{where}: test {record.get('id')!r}: {exc}")
                continue
            if test.id in seen_ids:
                problems.append(f"{where}: duplicate test id {test.id!r} (first in {seen_ids[test.id]}), skipped")
            elif test.pdf not in pdfs:
                problems.append(f"{where}: test {test.id!r}: PDF pdfs/{test.pdf} not found, skipped")
            else:
                seen_ids[test.id] = where
                tests.append(test)
    with_baseline = {t.pdf for tests in by_file.values() for t in tests if t.type == "baseline"}
    baselines = [
        BaselineTest(pdf=pdf, page=1, id=f"{pdf}_baseline", type="baseline") for pdf in sorted(pdfs - with_baseline)
    ]
    if baselines:
        by_file[BASELINE_FILE] = baselines
    return LoadedTests({name: tests for name, tests in by_file.items() if tests}, problems)


def index_outputs(outputs_dir: Path) -> dict[tuple[str, int], list[Path]]:
    """Output files by (PDF path without suffix, page), repeats in ascending order."""
    found: dict[tuple[str, int], list[tuple[int, Path]]] = defaultdict(list)
    for path in outputs_dir.rglob("*.md"):
        match = _OUTPUT_NAME.match(path.relative_to(outputs_dir).as_posix())
        if match:
            found[(match["stem"], int(match["page"]))].append((int(match["repeat"]), path))
    return {key: [path for _, path in sorted(repeats)] for key, repeats in found.items()}


def _binomial_cdf(n: int, p: float) -> list[float]:
    """P(X <= k) for k = 0..n, X ~ Binomial(n, p), computed in log space (n can be thousands)."""
    if p <= 0.0 or p >= 1.0:
        return [1.0] * (n + 1) if p <= 0.0 else [0.0] * n + [1.0]
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    cdf, total = [], 0.0
    for k in range(n + 1):
        total += math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
        cdf.append(total)
    return cdf


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), q in [0, 100]."""
    position = q / 100 * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def bootstrap_ci(
    results: dict[str, list[bool]], samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Confidence interval of the mean of per-file pass rates, resampling tests within each file."""
    files = [(len(r), _binomial_cdf(len(r), sum(r) / len(r))) for r in results.values() if r]
    if not files:
        return 0.0, 0.0
    rng = random.Random(seed)
    means = sorted(
        sum(min(bisect.bisect_left(cdf, rng.random()), n) / n for n, cdf in files) / len(files) for _ in range(samples)
    )
    alpha = (1 - level) / 2 * 100
    return _percentile(means, alpha), _percentile(means, 100 - alpha)


def check_bench_dir(bench_dir: Path) -> None:
    """UsageError unless `bench_dir` holds olmOCR-bench test files."""
    if not bench_dir.is_dir() or not any(bench_dir.glob("*.jsonl")):
        raise UsageError("no *.jsonl test files here", path=bench_dir, hint="expected an olmOCR-bench directory")


def score_bench(bench_dir: Path, outputs_dir: Path, *, seed: int = 0) -> BenchReport:
    """Score the outputs in `outputs_dir` on the olmOCR-bench tests in `bench_dir`."""
    bench_dir = Path(bench_dir)
    check_bench_dir(bench_dir)
    loaded = load_bench(bench_dir)
    report = score_outputs(loaded, Path(outputs_dir), seed=seed)
    report.problems[:0] = loaded.problems
    return report


def score_outputs(loaded: LoadedTests, outputs_dir: Path, *, seed: int = 0) -> BenchReport:
    """Score one outputs folder on tests already loaded (several folders share one `load_bench`).

    The report's problems are this folder's only: unreadable files, pages without output (one line
    for a folder with no output file at all).
    """
    if not outputs_dir.is_dir():
        raise UsageError("outputs directory not found", path=outputs_dir)
    problems: list[str] = []
    outputs = index_outputs(outputs_dir)
    if not outputs:
        problems.append(f"{outputs_dir}: no output files named <pdf path>_pg<page>_repeat<k>.md; every test fails")
    pages: dict[Path, Page | None] = {}

    def read(path: Path) -> Page | None:
        if path not in pages:
            try:
                pages[path] = Page(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{path}: cannot read ({exc})")
                pages[path] = None
        return pages[path]

    missing: set[tuple[str, int]] = set()
    results: dict[str, list[bool]] = {}
    rows: list[dict[str, Any]] = []
    for file_name, tests in loaded.by_file.items():
        passes = results.setdefault(file_name, [])
        for test in tests:
            key = (test.pdf.removesuffix(".pdf"), test.page)
            repeats = outputs.get(key, [])
            if not repeats and key not in missing and outputs:
                missing.add(key)
                problems.append(
                    f"{outputs_dir}: no output {key[0]}_pg{key[1]}_repeat*.md for {test.pdf} page {test.page}"
                )
            verdicts = []
            for path in repeats:
                page = read(path)
                verdicts.append(test.run(page) if page is not None else (False, f"cannot read {path.name}"))
            passed_count = sum(ok for ok, _ in verdicts)
            passed = passed_count * 2 > len(verdicts)
            explanation = next((why for ok, why in verdicts if not ok), "") if verdicts else "no output for this page"
            if len(verdicts) > 1 and passed_count < len(verdicts):
                explanation = f"{passed_count}/{len(verdicts)} repeats passed; {explanation}"
            passes.append(passed)
            rows.append(
                {
                    "id": test.id,
                    "type": test.type,
                    "file": file_name,
                    "pdf": test.pdf,
                    "page": test.page,
                    "pass": passed,
                    "explanation": explanation,
                }
            )
    per_file = {name: sum(r) / len(r) for name, r in results.items()}
    overall = sum(per_file.values()) / len(per_file) if per_file else 0.0
    low, high = bootstrap_ci(results, seed=seed)
    return BenchReport(overall, low, high, per_file, rows, problems)
