import json
from pathlib import Path

from pageset_factory import GOOD_MD, add_bad_pairs, copy_good_pairs
from typer.testing import CliRunner

from docvl.cli import app
from docvl.data.text_rules import check_text_rules
from docvl.data.validate import ValidateOptions, validate_pageset

runner = CliRunner()


def test_good_pairs_pass(fixtures_dir: Path, tmp_path: Path) -> None:
    copy_good_pairs(fixtures_dir, tmp_path)
    report = validate_pageset(tmp_path, ValidateOptions(render_longest_side=256), jobs=1)
    assert report.checked == 2
    assert report.failures == []


def test_every_bad_input_is_named_with_its_check(fixtures_dir: Path, tmp_path: Path) -> None:
    copy_good_pairs(fixtures_dir, tmp_path)
    expected = add_bad_pairs(fixtures_dir, tmp_path)
    report = validate_pageset(tmp_path, ValidateOptions(render_longest_side=256), jobs=2)
    found = {(Path(f.path).name, f.check) for f in report.failures}
    for name, check in expected.items():
        assert (name, check) in found, (name, check, sorted(found))
    assert report.checked == 2 + len(expected)
    assert report.failed == len(expected)
    assert all("\n" not in f.message for f in report.failures)


def test_cli_json_report_and_quarantine(fixtures_dir: Path, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    copy_good_pairs(fixtures_dir, pages)
    expected = add_bad_pairs(fixtures_dir, pages)
    report_file = tmp_path / "failures.jsonl"
    result = runner.invoke(
        app,
        [
            "validate",
            str(pages),
            "--json",
            "--jobs",
            "1",
            "--report",
            str(report_file),
            "--quarantine",
            str(tmp_path / "bad"),
            "--no-render",
        ],
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["checked"] == 2 + len(expected)
    assert data["failed"] == len(expected)
    assert {"path", "check", "message"} <= set(data["failures"][0])
    assert len(report_file.read_text().splitlines()) == len(data["failures"])
    # failing pairs moved out, good ones stay, and the page set now validates
    assert (tmp_path / "bad" / "rotation45.md").exists() and not (pages / "rotation45.md").exists()
    again = runner.invoke(app, ["validate", str(pages), "--json", "--jobs", "1"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["checked"] == 2


def test_cli_table_output(fixtures_dir: Path, tmp_path: Path) -> None:
    copy_good_pairs(fixtures_dir, tmp_path)
    result = runner.invoke(app, ["validate", str(tmp_path), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "checked 2 pairs: 2 passed, 0 failed" in result.stdout


def test_missing_pageset_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "page set does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_text_rules() -> None:
    assert check_text_rules("Plain text with \\(x^2\\) and\n\\[\\sum_i a_i\\]") == []
    assert check_text_rules("<table><tr><td>1</td></tr></table>") == []
    assert check_text_rules("```\n| a | b |\n|---|---|\n```") == []  # code is literal
    checks = {name for name, _ in check_text_rules("cost is $x^2$ and \\textbf{bold}")}
    assert checks == {"math_delimiters", "latex_outside_math"}
    assert check_text_rules("\\(a + b")[0][0] == "math_delimiters"
    assert check_text_rules("prices $5 and $10") == []
    # a row break with spacing inside a matrix is no math delimiter
    assert check_text_rules("\\[\\begin{matrix} a \\\\[2pt] b \\end{matrix}\\]") == []
    stray = check_text_rules("text \\) more")
    assert stray == [("math_delimiters", "math delimiter \\) at line 1 closes no math")]
    unclosed = check_text_rules("line one\n\\[x^2")
    assert unclosed == [("math_delimiters", "math delimiter \\[ at line 2 is never closed")]


def test_token_length_with_the_training_pipeline(fixtures_dir: Path, tmp_path: Path) -> None:
    copy_good_pairs(fixtures_dir, tmp_path)  # edgar: a full text page; blanktext: front matter only
    result = runner.invoke(
        app,
        [
            "validate",
            str(tmp_path),
            "--tokens",
            "--json",
            "-j",
            "1",
            "--set",
            "data.max_length=800",
            "--set",
            "data.target_longest_image_dim=224",
        ],
    )
    assert result.exit_code == 1, result.output
    failures = json.loads(result.stdout)["failures"]
    assert [(Path(f["path"]).name, f["check"]) for f in failures] == [("edgar.md", "token_length")]
    assert "tokens > data.max_length 800" in failures[0]["message"]


def test_quarantine_also_updates_the_manifest(fixtures_dir: Path, tmp_path: Path) -> None:
    from docvl.config import load_config
    from docvl.data.prepare import prepare
    from docvl.io import read_jsonl

    src = tmp_path / "src"
    copy_good_pairs(fixtures_dir, src)
    (src / "bad.pdf").write_bytes((fixtures_dir / "pdfs" / "some_ocr1.pdf").read_bytes())
    (src / "bad.md").write_text(GOOD_MD + "| a | b |\n|---|---|\n| 1 | 2 |")
    pages = tmp_path / "pages"
    prepare([src], pages, load_config(), eval_fraction=0, jobs=1)
    assert len(read_jsonl(pages / "manifest.jsonl")) == 3
    first = runner.invoke(app, ["validate", str(pages), "-j", "1", "--quarantine", str(tmp_path / "q"), "--json"])
    assert first.exit_code == 1
    assert [r["id"] for r in read_jsonl(pages / "manifest.jsonl")] == ["blanktext", "edgar"]
    again = runner.invoke(app, ["validate", str(pages), "-j", "1", "--json"])
    assert again.exit_code == 0, again.output
