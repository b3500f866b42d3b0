"""Verdict agreement with olmOCR-bench's own scorer, test by test, and the speed of `docvl eval` beside its CLI.

    python bench/olmocr_agreement.py --olmocr-src SRC --reference-python PY [--work DIR] [--speed] [--show N]

SRC is a checkout of allenai/olmocr (the reference commit is in `docvl.scoring.bench`); PY is a Python
with olmOCR-bench's own dependencies (rapidfuzz, fuzzysearch, beautifulsoup4, lxml, tqdm, pypdf,
numpy, pillow, playwright; a Chromium for its KaTeX math rendering, e.g. Debian's through a
`sitecustomize` that passes `executable_path`) - a throwaway environment, never docvl's.

The bench is olmOCR's sample benchmark (`olmocr/bench/sample_data`: its tests, PDFs and the pipeline's
own outputs). Eight kinds of candidate output are scored: the pipeline's outputs as shipped, the PDFs'
text layers (pypdfium2), and six perturbations of the pipeline's outputs (markup stripped, typos,
paragraphs reversed, truncated to near-empty, formulas respelled the way other models write them,
formulas with font commands dropped or swapped and extra braces).
Every (candidate, test, output file) verdict is computed by both scorers - the reference in a
subprocess running PY, docvl here - and compared. One summary line:

    agreement over K candidates: non-math A/B (P%), math C/D (Q%)

With `--synthetic N`, the same on `bench/score_speed.py`'s generated bench (N pages of prose with typos,
HTML and Markdown tables with spans, formulas; tests of every type).

With `--speed`: seven of those folders, the reference CLI (`python -m olmocr.bench.benchmark --dir BENCH`,
cold: fresh equation cache) against one `docvl eval --bench BENCH --outputs ... (x7) --json` process, wall
time.

Measured on 2026-12-03 against allenai/olmocr f7cfe4c (2 shared CPU cores, Debian chromium 150): non-math
864/864, math 96/96 over 8 candidates; `--synthetic 200`: non-math 6200/6200, math 800/800; 7 folders in
0.99 s against the reference CLI's 49.0 s cold (49x).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path("olmocr/bench/sample_data")
PIPELINE = "olmocr_pipeline"
_OUTPUT = re.compile(r"^(?P<stem>.+)_pg(?P<page>\d+)_repeat(?P<repeat>\d+)\.md$")


# ---- candidates -----------------------------------------------------------------------------------


def _strip_markup(text: str) -> str:
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.MULTILINE)
    return re.sub(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)", "", text)


def _typos(text: str, rng: random.Random) -> str:
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch.isalpha() and rng.random() < 0.03:
            chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
    return "".join(chars)


def _reverse_paragraphs(text: str) -> str:
    return "\n\n".join(reversed(text.split("\n\n")))


def _truncate(text: str, rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return "\n"
    if choice < 0.6:
        words = text.split()
        return " ".join(words[:3])
    return text[: len(text) // 3]


def _respell_math(text: str) -> str:
    """Formulas as other models spell them: \\( \\) for $ $, \\dfrac, \\left( \\right), thin spaces, \\text."""
    text = re.sub(r"(?<!\$)\$(?!\$)(.+?)(?<!\$)\$(?!\$)", r"\\(\1\\)", text)
    text = text.replace("\\frac", "\\dfrac").replace("\\mathrm{", "\\text{").replace("\\operatorname{", "\\text{")
    text = re.sub(r"(?<![\\a-zA-Z])\((?=[^()\n]{1,40}\))", r"\\left(", text)
    text = re.sub(r"(\\left\([^()\n]{1,40})\)", r"\1\\right)", text)
    return text.replace("=", "\\,=\\,")


def _refont_math(text: str) -> str:
    """Formulas with font commands dropped or swapped and redundant braces, as models vary them."""
    text = re.sub(r"\\mathcal\{([^{}]*)\}", r"\1", text)
    text = text.replace("\\text{", "\\mathrm{").replace("\\mathbf{", "\\boldsymbol{")
    text = re.sub(r"([_^])([A-Za-z0-9])", r"\1{\2}", text)
    return text.replace("\\left(", "(").replace("\\right)", ")")


def _text_layers(bench: Path, out: Path) -> None:
    import pypdfium2 as pdfium

    for pdf_path in sorted((bench / "pdfs").rglob("*.pdf")):
        rel = pdf_path.relative_to(bench / "pdfs").as_posix().removesuffix(".pdf")
        doc = pdfium.PdfDocument(str(pdf_path))
        try:
            for number in range(len(doc)):
                page = doc[number]
                text = page.get_textpage().get_text_range().replace("\r\n", "\n")
                target = out / f"{rel}_pg{number + 1}_repeat1.md"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        finally:
            doc.close()


def build_bench(olmocr_src: Path, work: Path) -> tuple[Path, list[str]]:
    """The sample benchmark with seven candidate folders beside `pdfs/`, as the reference CLI reads it."""
    bench = work / "bench"
    if bench.exists():
        shutil.rmtree(bench)
    sample = olmocr_src / SAMPLE
    shutil.copytree(sample / "pdfs", bench / "pdfs")
    for jsonl in sample.glob("*.jsonl"):
        shutil.copy(jsonl, bench / jsonl.name)
    shutil.copytree(sample / PIPELINE, bench / PIPELINE)
    rng = random.Random(14)
    perturbations = {
        "plain": _strip_markup,
        "typos": lambda text: _typos(text, rng),
        "reversed": _reverse_paragraphs,
        "truncated": lambda text: _truncate(text, rng),
        "math_respelled": _respell_math,
        "math_refonted": _refont_math,
    }
    for name, change in perturbations.items():
        for source in sorted((bench / PIPELINE).rglob("*.md")):
            target = bench / name / source.relative_to(bench / PIPELINE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(change(source.read_text(encoding="utf-8")), encoding="utf-8")
    _text_layers(bench, bench / "textlayer")
    return bench, [PIPELINE, "textlayer", *perturbations]


# ---- verdicts -------------------------------------------------------------------------------------


def _verdicts(tests: list, bench: Path, candidates: list[str]) -> dict[str, bool]:
    """'candidate|test id|output file' -> verdict, for every output file of each test's page."""
    found: dict[str, bool] = {}
    for candidate in candidates:
        folder = bench / candidate
        files: dict[tuple[str, int], list[Path]] = {}
        for path in folder.rglob("*.md"):
            match = _OUTPUT.match(path.relative_to(folder).as_posix())
            if match:
                files.setdefault((match["stem"], int(match["page"])), []).append(path)
        for test in tests:
            for path in sorted(files.get((test.pdf.removesuffix(".pdf"), test.page), [])):
                passed, _ = test.run(path.read_text(encoding="utf-8"))
                found[f"{candidate}|{test.id}|{path.relative_to(folder).as_posix()}"] = bool(passed)
    return found


def reference_side(result: Path, bench: Path, candidates: list[str]) -> None:
    """Runs under the reference's Python: its own test classes, loaded as its benchmark loads them."""
    from olmocr.bench.tests import BaselineTest, load_tests

    tests = [test for jsonl in sorted(bench.glob("*.jsonl")) for test in load_tests(str(jsonl))]
    for pdf in sorted(p.relative_to(bench / "pdfs").as_posix() for p in (bench / "pdfs").rglob("*.pdf")):
        if not any(t.type == "baseline" and t.pdf == pdf for t in tests):
            tests.append(BaselineTest(id=f"{pdf}_baseline", pdf=pdf, page=1, type="baseline"))
    types = {test.id: test.type for test in tests}
    result.write_text(json.dumps({"verdicts": _verdicts(tests, bench, candidates), "types": types}))


def docvl_side(bench: Path, candidates: list[str]) -> tuple[dict[str, bool], list[str]]:
    from docvl.scoring.bench import load_bench

    loaded = load_bench(bench)
    tests = [test for tests in loaded.by_file.values() for test in tests]
    return _verdicts(tests, bench, candidates), loaded.problems


def _reference_env(olmocr_src: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ, HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(olmocr_src), env.get("PYTHONPATH", "")) if p)
    return env


def reference_verdicts(args: argparse.Namespace, bench: Path, candidates: list[str]) -> dict:
    home = Path(tempfile.mkdtemp(prefix="olmref-home-"))
    result = home / "verdicts.json"
    command = [args.reference_python, __file__, "--reference-side", str(result), str(bench), *candidates]
    done = subprocess.run(
        command, env=_reference_env(args.olmocr_src, home), capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"reference scorer failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(result.read_text())


# ---- speed ----------------------------------------------------------------------------------------


def speed(args: argparse.Namespace, bench: Path, candidates: list[str]) -> str:
    """Wall time of both on the first seven candidates (the reference CLI scores every folder beside pdfs/)."""
    candidates = candidates[:7]
    for extra in sorted(p for p in bench.iterdir() if p.is_dir() and p.name not in {"pdfs", *candidates}):
        shutil.move(extra, bench.parent / extra.name)
    home = Path(tempfile.mkdtemp(prefix="olmref-cold-"))
    start = time.perf_counter()
    subprocess.run(
        [args.reference_python, "-m", "olmocr.bench.benchmark", "--dir", str(bench), "--force"],
        env=_reference_env(args.olmocr_src, home),
        capture_output=True,
        check=True,
    )
    reference = time.perf_counter() - start
    outputs = [arg for name in candidates for arg in ("--outputs", str(bench / name))]
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "docvl.cli", "eval", "--bench", str(bench), *outputs, "--json"],
        capture_output=True,
        check=True,
    )
    ours = time.perf_counter() - start
    assert len(json.loads(done.stdout)["checkpoints"]) == len(candidates)
    return (
        f"speed: {len(candidates)} output folders, reference CLI cold {reference:.1f} s, "
        f"one docvl eval call {ours:.2f} s: {reference / ours:.0f}x"
    )


def compare(label: str, reference: dict, ours: dict[str, bool], show: int) -> None:
    """Print up to `show` differing verdicts and the summary line."""
    counts = {"non-math": [0, 0], "math": [0, 0]}
    differences = []
    for key, verdict in reference["verdicts"].items():
        kind = "math" if reference["types"][key.split("|")[1]] == "math" else "non-math"
        counts[kind][1] += 1
        if ours.get(key) == verdict:
            counts[kind][0] += 1
        else:
            differences.append(f"  {key}: reference {verdict}, docvl {ours.get(key)}")
    extra = sorted(set(ours) - set(reference["verdicts"]))
    for line in differences[:show]:
        print(line)
    if extra:
        print(f"  {len(extra)} verdicts only docvl made, e.g. {extra[0]}")
    parts = [f"{kind} {ok}/{total} ({100 * ok / max(total, 1):.1f}%)" for kind, (ok, total) in counts.items()]
    print(f"{label}: {', '.join(parts)}")


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--reference-side":
        reference_side(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--olmocr-src", type=Path, required=True, help="allenai/olmocr checkout")
    parser.add_argument("--reference-python", required=True, help="Python with olmOCR-bench's dependencies")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "docvl-olmocr-agreement")
    parser.add_argument("--speed", action="store_true", help="also time the reference CLI against docvl eval")
    parser.add_argument("--show", type=int, default=20, help="print up to N differing verdicts")
    parser.add_argument("--reuse", action="store_true", help="reuse the reference verdicts of the last run")
    parser.add_argument("--synthetic", type=int, default=0, help="also compare on score_speed.py's bench of N pages")
    args = parser.parse_args()

    bench, candidates = build_bench(args.olmocr_src, args.work)  # deterministic: same outputs on every run
    cached = args.work / "reference-verdicts.json"
    if args.reuse and cached.is_file():
        reference = json.loads(cached.read_text())
    else:
        reference = reference_verdicts(args, bench, candidates)
        cached.write_text(json.dumps(reference))
    ours, problems = docvl_side(bench, candidates)
    for line in problems:
        print(f"docvl problem: {line}")
    compare(f"agreement over {len(candidates)} candidates", reference, ours, args.show)
    if args.synthetic:
        from score_speed import make_synthetic_bench  # bench/ is this script's folder

        shutil.rmtree(args.work / "synthetic", ignore_errors=True)
        synthetic, outputs = make_synthetic_bench(args.work / "synthetic", args.synthetic, 1, 0)
        ours, _ = docvl_side(synthetic, [outputs.name])
        compare("synthetic agreement", reference_verdicts(args, synthetic, [outputs.name]), ours, args.show)
    if args.speed:
        print(speed(args, bench, candidates))


if __name__ == "__main__":
    main()
