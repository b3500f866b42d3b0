"""Where a page's unit tests come from, for rewards: the page set's olmOCR-bench files, else its gold Markdown.

A page set may carry tests in the olmOCR-bench layout (`*.jsonl` + `pdfs/`): in the set folder itself, or in a
folder directly inside it. Synthetic sets write `SET/bench/` (held-out pages) and `SET/tests/` (training pages).
Each bench PDF is matched to a page of the set by its bytes (synthetic sets link or copy the page's PDF), so
names may differ. Tests load as `docvl eval --bench` loads them (`load_bench`: a PDF without a `baseline` test
gets one; bad records are problems, not exceptions).

A page without tests in those files gets tests generated from its gold Markdown (`docvl.scoring.testgen`),
which cannot know texts drawn on the page but left out of the gold (running headers, page numbers). A page
with neither has no `PageGold`: the caller counts and skips it rather than rewarding it zero.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from docvl.errors import DataError
from docvl.scoring.bench import load_bench
from docvl.scoring.bench_tests import BenchTest, BenchTestError, load_test
from docvl.scoring.rewards import PageGold
from docvl.scoring.testgen import generate_tests


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bench_dirs(set_dir: Path) -> list[Path]:
    """The set folder and its direct subfolders that hold olmOCR-bench files (`*.jsonl` beside `pdfs/`)."""
    candidates = [set_dir, *sorted(p for p in set_dir.iterdir() if p.is_dir())]
    return [d for d in candidates if (d / "pdfs").is_dir() and any(d.glob("*.jsonl"))]


class PageTestSource:
    """The unit tests of a page set's pages, indexed by PDF content; `problems` lists unusable bench records."""

    def __init__(self, set_dir: Path) -> None:
        self.set_dir = Path(set_dir)
        self.problems: list[str] = []
        self._tests: dict[str, tuple[BenchTest, ...]] = {}
        for bench in _bench_dirs(self.set_dir):
            loaded = load_bench(bench)
            self.problems += [f"{bench}/{problem}" for problem in loaded.problems]
            by_pdf: dict[str, list[BenchTest]] = {}
            for tests in loaded.by_file.values():
                for test in tests:
                    by_pdf.setdefault(test.pdf, []).append(test)
            for pdf, tests in by_pdf.items():
                # A page in two bench folders keeps the first folder's tests (a set with nothing held out
                # has every page in bench/).
                self._tests.setdefault(_sha256(bench / "pdfs" / pdf), tuple(tests))

    @property
    def pages_with_tests(self) -> int:
        """How many distinct PDFs the bench files have tests for."""
        return len(self._tests)

    def gold(self, pdf: Path, md: Path | None) -> PageGold | None:
        """The page's gold for rewards, or None when it has no tests and no gold text to make them from.

        DataError when the page's PDF or Markdown cannot be read, or its Markdown makes an invalid test."""
        name = pdf.relative_to(self.set_dir).as_posix() if pdf.is_relative_to(self.set_dir) else str(pdf)
        try:
            tests = self._tests.get(_sha256(pdf), ()) if self._tests else ()
            markdown = md.read_text(encoding="utf-8") if md is not None else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the page ({exc})", path=pdf) from None
        if not tests and markdown.strip():
            try:
                tests = tuple(load_test(record) for record in generate_tests(markdown, name))
            except BenchTestError as exc:
                raise DataError(f"a test made from the gold Markdown is invalid ({exc})", path=md) from None
        if not tests and not markdown.strip():
            return None
        return PageGold(pdf=name, markdown=markdown, tests=tests)
