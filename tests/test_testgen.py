"""Unit tests generated from gold Markdown: each kind is produced, loads as an olmOCR-bench test, passes on the
gold page itself and fails on a page that gets that thing wrong."""

from __future__ import annotations

from docvl.scoring.bench_tests import load_test
from docvl.scoring.testgen import generate_tests, text_units

GOLD = """---
primary_language: en
is_rotation_valid: True
rotation_correction: 0
is_table: True
is_diagram: False
---
# Annual harvest report

The village council met in early spring to review the budget.

- First item on the list.
- Second item with **bold** text.

<table><thead><tr><th>Crop</th><th>Tons</th></tr></thead><tbody><tr><td>wheat</td><td>412</td></tr><tr><td>barley</td><td>97</td></tr></tbody></table>

\\[x^{2} + y_{1} = 3k\\]

Closing remarks about the harvest and the weather."""


def _verdicts(tests: list[dict], output: str) -> dict[str, bool]:
    return {t["id"]: load_test(t).run(output)[0] for t in tests}


def test_every_kind_is_generated_and_passes_on_the_gold_page() -> None:
    tests = generate_tests(GOLD, "docs/report.pdf", absent=["Harvest Journal", "Page 12"])
    kinds = {t["type"] for t in tests}
    assert kinds == {"present", "order", "absent", "table", "math", "baseline"}
    assert all(t["pdf"] == "docs/report.pdf" and t["page"] == 1 for t in tests)
    assert len({t["id"] for t in tests}) == len(tests)
    body = GOLD.split("---\n", 2)[2]
    failed = [tid for tid, ok in _verdicts(tests, body).items() if not ok]
    assert failed == []


def test_wrong_outputs_fail_the_matching_tests() -> None:
    tests = generate_tests(GOLD, "report.pdf", absent=["Page 12"])
    body = GOLD.split("---\n", 2)[2]
    swapped = body.replace("<td>412</td>", "<td>97x</td>").replace("<td>97</td>", "<td>412</td>")
    reordered = body.replace("# Annual harvest report\n\n", "") + "\n\n# Annual harvest report"
    with_footer = body + "\n\nPage 12"
    cases = {
        "table": swapped,
        "order": reordered,
        "absent": with_footer,
        "math": body.replace("3k", "4k"),
        "present": body.replace("village council", "town board"),
    }
    for kind, output in cases.items():
        verdicts = _verdicts([t for t in tests if t["type"] == kind], output)
        assert not all(verdicts.values()), f"no {kind} test caught the fault"


def test_absent_text_also_in_the_body_gives_no_test_and_blank_pages_ask_for_nothing() -> None:
    tests = generate_tests(GOLD, "a.pdf", absent=["the weather"])
    assert not [t for t in tests if t["type"] == "absent"]
    blank = generate_tests("---\nprimary_language: null\n---", "blank.pdf")
    assert blank == [
        {"pdf": "blank.pdf", "page": 1, "id": "blank_baseline_01", "type": "baseline", "max_diffs": 0, "max_length": 0}
    ]
    assert _verdicts(blank, "") == {"blank_baseline_01": True}
    assert _verdicts(blank, "Some text") == {"blank_baseline_01": False}


def test_text_units_strip_markup_and_skip_tables_and_formulas() -> None:
    assert text_units("## A *b* title\n\n1. one\n\n<table><tr><td>x</td></tr></table>\n\n\\[a\\]\n\n| a | b |") == [
        "A b title",
        "one",
    ]


def test_markdown_without_front_matter_and_pipe_tables() -> None:
    tests = generate_tests("| Name | Age |\n|---|---|\n| Ann | 31 |\n| Bob | 42 |", "t.pdf")
    table = [t for t in tests if t["type"] == "table"]
    assert table[0] | {"cell": "31", "left": "Ann", "top_heading": "Age"} == table[0]  # first column: headings
    assert all(ok for ok in _verdicts(table, "| Name | Age |\n|---|---|\n| Ann | 31 |\n| Bob | 42 |").values())
