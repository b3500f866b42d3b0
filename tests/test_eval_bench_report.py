"""`docvl eval --bench --outputs A --outputs B`: several folders in one call, bad input as one line each, a light
import footprint, and the `--html` report (its structure parsed, and opened in headless Chromium when installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from docvl.cli import app
from docvl.scoring import score_bench

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "bench"
SRC = Path(__file__).resolve().parents[1] / "src"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    """The example bench with two output folders: the example outputs and a worse copy."""
    root = tmp_path / "bench"
    shutil.copytree(EXAMPLES, root)
    worse = root / "worse"
    shutil.copytree(root / "docvl_example", worse)
    for path in worse.glob("small_page_size_*.md"):
        path.write_text("Nothing useful here.\n", encoding="utf-8")
    table = worse / "lots_of_sci_tables_pg1_repeat1.md"
    table.write_text("<script>alert(1)</script>\n" + table.read_text(encoding="utf-8"), encoding="utf-8")
    return root


def test_several_output_folders_side_by_side(bench: Path) -> None:
    good, worse = bench / "docvl_example", bench / "worse"
    code, stdout, stderr = invoke(
        "eval", "--bench", str(bench), "--outputs", str(good), "--outputs", str(worse), "--json"
    )
    assert code == 0 and stderr == ""
    result = json.loads(stdout)
    runs = {Path(run["name"]).name: run["bench"] for run in result["checkpoints"]}
    for name, folder in (("docvl_example", good), ("worse", worse)):
        alone = score_bench(bench, folder)
        assert runs[name]["overall"] == alone.overall  # one call scores exactly as separate calls
        assert (runs[name]["ci_low"], runs[name]["ci_high"]) == (alone.ci_low, alone.ci_high)
    assert runs["worse"]["overall"] < runs["docvl_example"]["overall"]
    assert result["best"]["bench overall"] == str(good)

    code, stdout, _ = invoke("eval", "--bench", str(bench), "--outputs", str(good), "--outputs", str(worse))
    row = next(line for line in stdout.splitlines() if "docvl_example" in line)
    assert "*" in row and "[" in row  # best marked, interval shown
    assert "*" not in next(line for line in stdout.splitlines() if "worse" in line).split("│")[2]


def test_bad_input_is_one_line_each_and_the_rest_is_scored(bench: Path, tmp_path: Path) -> None:
    lines = (bench / "text.jsonl").read_text(encoding="utf-8").splitlines()
    lines[1:1] = ['{"pdf": "small_page_size.pdf", "page": 1, "id": "cut', '{"pdf": "ambiguous.pdf", "page": 1, '
                  '"id": "odd", "type": "sparkle"}']  # fmt: skip
    (bench / "text.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("not an output name", encoding="utf-8")
    code, stdout, stderr = invoke(
        "eval", "--bench", str(bench), "--outputs", str(bench / "docvl_example"), "--outputs", str(empty), "--json"
    )
    assert code == 0
    problems = [line.removeprefix("problem ") for line in stderr.splitlines()]
    assert problems[0].startswith("text.jsonl:2: malformed JSON")
    assert problems[1].startswith("text.jsonl:3: test 'odd': unknown test type 'sparkle'")
    assert problems[2] == f"{empty}: no output files named <pdf path>_pg<page>_repeat<k>.md; every test fails"
    assert len(problems) == 3
    runs = json.loads(stdout)["checkpoints"]
    assert runs[0]["bench"]["overall"] > 0 and runs[1]["bench"]["overall"] == 0.0
    scored = {row["id"] for row in runs[0]["bench"]["tests"]}
    good = {json.loads(line)["id"] for line in lines if line.endswith("}") and '"sparkle"' not in line}
    assert good <= scored and "odd" not in scored


def test_scoring_outputs_imports_no_model_libraries() -> None:
    probe = (
        "import sys\n"
        "from docvl.cli import main\n"
        f"sys.argv = ['docvl', 'eval', '--bench', {str(EXAMPLES)!r}, '--outputs', {str(EXAMPLES / 'docvl_example')!r},"
        " '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'PIL', 'httpx', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )
    assert '"overall"' in done.stdout
    assert "HEAVY []" in done.stderr


def _report(bench: Path, tmp_path: Path) -> Path:
    report = tmp_path / "report.html"
    code, _, stderr = invoke("eval", "--bench", str(bench), "--outputs", str(bench / "docvl_example"),
                             "--outputs", str(bench / "worse"), "--gold", str(bench / "docvl_example"),
                             "--html", str(report), "--json")  # fmt: skip
    assert code == 0, stderr
    return report


def test_html_report_structure(bench: Path, tmp_path: Path) -> None:
    soup = BeautifulSoup(_report(bench, tmp_path).read_text(encoding="utf-8"), "html.parser")
    assert soup.find("script") is None  # nothing to run; the model's <script> was dropped
    assert not soup.find_all(["link", "iframe"]) and not soup.select("[src^=http]")
    sections = soup.select("section.page")
    assert {s.h2.get_text().split(" page ")[0] for s in sections} == {p.name for p in (bench / "pdfs").glob("*.pdf")}
    rates = [int(s.h2.get_text().rsplit("rate ", 1)[1].split("%")[0]) for s in sections]
    assert rates == sorted(rates)  # worst first
    for section in sections:
        assert section.select_one(".image img")["src"].startswith("data:image/png;base64,")
        assert [h.get_text() for h in section.select(".output h3")] == ["docvl_example", "worse"]
        assert section.select_one(".gold") is not None
    worst = sections[0]
    assert "small_page_size" in worst.h2.get_text()
    failed = worst.select(".output")[1].select("ul.failed li")
    assert any("sps_present_01" in li.get_text() and "not found" in li.get_text() for li in failed)
    assert worst.select(".output")[1].select("del")  # the worse output lacks the gold's words
    tables = next(s for s in sections if "lots_of_sci_tables" in s.h2.get_text())
    assert tables.select(".output .markdown table td")  # tables rendered as tables


def test_html_report_in_headless_chromium(bench: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    from PIL import Image

    report, shot = _report(bench, tmp_path), tmp_path / "shot.png"
    done = subprocess.run(
        # no JavaScript switch here: headless screenshots need it; the report holds no script (structure test)
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,1600",
         report.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, table borders and the page image, not a blank page
