"""olmOCR-bench test types and scoring, written from the benchmark's specification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docvl.errors import UsageError
from docvl.scoring import score_bench
from docvl.scoring.bench_tests import BenchTestError, load_test

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "bench"


def make(kind: str, **fields: Any) -> Any:
    return load_test({"pdf": "doc.pdf", "page": 1, "id": "t1", "type": kind, **fields})


def verdict(kind: str, output: str, **fields: Any) -> bool:
    return make(kind, **fields).run(output)[0]


# present / absent


def test_present_exact_and_normalized() -> None:
    page = "Intro.\n\nThe **quick** brown fox—jumps over the lazy dog.\n"
    assert verdict("present", page, text="quick brown fox-jumps")
    assert not verdict("present", page, text="quick brown cat")
    assert verdict("present", page, text="THE QUICK", case_sensitive=False)
    assert not verdict("present", page, text="THE QUICK")


def test_present_max_diffs_boundary() -> None:
    # 10 characters, max_diffs 1: a same-length window may miss exactly one character
    assert verdict("present", "zzzz abcdefghiX zzzz", text="abcdefghij", max_diffs=1)
    assert not verdict("present", "zzzz abcdeXghiY zzzz", text="abcdefghij", max_diffs=1)
    assert verdict("present", "zzzz abcdeXghiY zzzz", text="abcdefghij", max_diffs=2)


def test_present_first_n_and_last_n() -> None:
    page = "HEADER text " + "body " * 20 + "FOOTER"
    assert verdict("present", page, text="HEADER", first_n=20)
    assert not verdict("present", page, text="FOOTER", first_n=20)
    assert verdict("present", page, text="FOOTER", last_n=10)
    assert verdict("present", page, text="HEADER", first_n=10, last_n=10)


def test_absent() -> None:
    assert verdict("absent", "Body text only.", text="Page 3 of 10")
    assert not verdict("absent", "Body text. Page 3 of 10", text="Page 3 of 10")
    assert not verdict("absent", "Body text. Page 3 0f 10", text="Page 3 of 10", max_diffs=2)
    # exactly at the boundary (11/12 as a partial_ratio vs 1 - 1/12) the reference's float rounding says absent
    assert verdict("absent", "Body text. Page 3 0f 10", text="Page 3 of 10", max_diffs=1)


def test_output_shorter_than_the_text() -> None:
    # as in the reference: no length guard, partial_ratio aligns a shorter output inside the query
    assert verdict("present", "\n", text="a long phrase")  # normalized to " ", which "a long phrase" holds
    assert verdict("present", "long", text="a long phrase")
    assert not verdict("absent", "long", text="a long phrase")
    assert not verdict("present", "", text="a long phrase")


# order


def test_order() -> None:
    page = "First comes alpha section. Then the beta section follows."
    assert verdict("order", page, before="alpha section", after="beta section")
    assert not verdict("order", page, before="beta section", after="alpha section")
    assert not verdict("order", page, before="alpha section", after="gamma section")
    typo = "First comes alpha sectoin. Then the beta section follows."
    assert not verdict("order", typo, before="alpha section", after="beta section")
    # a swap of two letters is two edits
    assert not verdict("order", typo, before="alpha section", after="beta section", max_diffs=1)
    assert verdict("order", typo, before="alpha section", after="beta section", max_diffs=2)


def test_order_rejects_max_diffs_over_half() -> None:
    with pytest.raises(BenchTestError, match="more than half"):
        make("order", before="abcd", after="efghij", max_diffs=3)


# table

HTML_SPANS = """
<table>
  <thead>
    <tr><th rowspan="2">Region</th><th colspan="2">Sales</th></tr>
    <tr><th>2023</th><th>2024</th></tr>
  </thead>
  <tbody>
    <tr><td rowspan="2">North</td><td>10</td><td>12</td></tr>
    <tr><td>11</td><td>13</td></tr>
    <tr><td>South</td><td>20</td><td>22</td></tr>
  </tbody>
</table>
"""


@pytest.mark.parametrize(
    ("fields", "passes"),
    [
        ({"cell": "11", "left": "North"}, True),  # the rowspan cell is left of both its rows
        ({"cell": "13", "up": "12", "down": "22"}, True),
        ({"cell": "South", "up": "North"}, True),  # up from below a rowspan
        ({"cell": "2024", "up": "Sales"}, True),  # under a colspan header
        ({"cell": "2023", "up": "Sales"}, True),
        ({"cell": "Sales", "down": "2023"}, True),  # a colspan sees both cells below it
        ({"cell": "Sales", "down": "2024"}, True),
        ({"cell": "22", "top_heading": "Sales"}, True),
        ({"cell": "22", "top_heading": "2024"}, True),
        ({"cell": "22", "top_heading": "2023"}, False),
        ({"cell": "12", "left_heading": "North"}, True),  # no <th> in the row: its leftmost cell
        ({"cell": "12", "left": "10"}, True),
        ({"cell": "12", "left": "11"}, False),
        ({"cell": "Region", "up": "anything"}, False),  # nothing above the first row
        ({"cell": "Norht", "right": "10", "max_diffs": 2}, True),
        ({"cell": "Missing"}, False),
    ],
)
def test_table_html_neighbours_across_spans(fields: dict[str, Any], passes: bool) -> None:
    assert verdict("table", HTML_SPANS, **fields) is passes


MARKDOWN_TABLE = """
Some text before.

| Model | Params | Score |
|-------|-------:|:-----:|
| Small | 1B | 40.5 |
| Large | 7B | 61.2 |

After the table.
"""


@pytest.mark.parametrize(
    ("fields", "passes"),
    [
        ({"cell": "7B", "up": "1B", "left": "Large", "right": "61.2"}, True),
        ({"cell": "7B", "top_heading": "Params", "left_heading": "Large"}, True),
        ({"cell": "7B", "top_heading": "Score"}, False),
        ({"cell": "40.5", "down": "61.2", "left_heading": "Small"}, True),
        ({"cell": "40.5", "down": "7B"}, False),
        ({"cell": "1B", "right": "40.6", "max_diffs": 1}, True),
        ({"cell": "1B", "right": "40.6"}, False),
        ({"cell": "7B", "up": "1B", "ignore_markdown_tables": True}, False),
    ],
)
def test_table_markdown(fields: dict[str, Any], passes: bool) -> None:
    assert verdict("table", MARKDOWN_TABLE, **fields) is passes


def test_table_explanations() -> None:
    assert make("table", cell="x").run("no tables at all") == (False, "No tables found in the content")
    passed, why = make("table", cell="7B", up="2B").run(MARKDOWN_TABLE)
    assert not passed and "up of '7B': '1B' doesn't match expected '2B'" in why


# math


@pytest.mark.parametrize(
    ("output", "passes"),
    [
        (r"Euler: \(e^{i\pi} + 1 = 0\) holds.", True),
        (r"Display \[ e^{i \pi}+1=0 \] here.", True),
        (r"Dollars $$e^{i\pi}+1 = 0$$ here.", True),
        (r"Inline $e^{i\pi} + 1 = 0$ here.", True),
        (r"Wrong \(e^{i\pi} - 1 = 0\) here.", False),
        (r"No delimiters: e^{i\pi} + 1 = 0", False),
    ],
)
def test_math_delimiters(output: str, passes: bool) -> None:
    assert verdict("math", output, math=r"e^{i\pi} + 1 = 0") is passes


@pytest.mark.parametrize(
    ("expected", "written"),
    [
        (r"\frac{1}{2}", r"\dfrac12"),
        (r"x^{2}", r"x^2"),
        (r"x_{i}^{2}", r"x^2_i"),
        (r"\left( a \right)", r"(a)"),
        (r"a \le b", r"a \leq b"),
        (r"\alpha \times \beta", "α × β"),
        (r"f'(x)", r"f^{\prime}(x)"),
        (r"\sin x", r"\operatorname{sin} x"),
        (r"a + b", r"c = a + b \quad \text{(sum)}"),  # contained in a longer formula
        # the same glyphs in another font: from olmOCR's sample benchmark (math_2503_04086)
        (r"\sum_{s, R s=\mathcal{I}_{i}} \zeta_{n}", r"\sum_{s, Rs = I_i} \zeta_n"),
        (
            r"u \in\left(R / \operatorname{Ann}_{R}\left(x_{i}\right)\right)^{\times}",
            r"u \in (R/\text{Ann}_R(x_i))^\times",
        ),
        (r"\mathrm{d} x", r"dx"),
        (r"\mathbf{v} \cdot \mathbf{w}", r"\boldsymbol{v}\cdot\boldsymbol{w}"),
    ],
)
def test_math_canonical_equivalence(expected: str, written: str) -> None:
    assert verdict("math", f"\\[{written}\\]", math=expected)


def test_math_differences_that_matter() -> None:
    assert not verdict("math", r"\[x^{12}\]", math=r"x^{1}2")
    assert not verdict("math", r"\[\frac{1}{23}\]", math=r"\frac{12}{3}")
    # written at full size, not found inside another formula's subscript (KaTeX draws that smaller)
    assert not verdict(
        "math", r"\[\sum_{u \in (R/\text{Ann}_R(x_i))^\times} f(u)\]", math=r"u \in (R/\text{Ann}_R(x_i))^\times"
    )
    assert verdict("math", r"\[\sum_{u \in (R/\text{Ann}_R(x_i))^\times} f(u)\]", math=r"f(u)")
    assert not verdict("math", r"$a+b$", math="a+b", ignore_dollar_delimited=True)
    assert verdict("math", r"\(a+b\)", math="a+b", ignore_dollar_delimited=True)


# baseline


def test_baseline() -> None:
    assert verdict("baseline", "A normal page of text.")
    assert not verdict("baseline", "  \n--- | ---\n")
    assert not verdict("baseline", "Text " + "ab" * 31)
    assert verdict("baseline", "Text " + "ab" * 30)
    assert not verdict("baseline", "Text " + "a" * 31)
    assert not verdict("baseline", "English text 中文")
    assert not verdict("baseline", "English text 😀")
    assert verdict("baseline", "English text 中文", check_disallowed_characters=False)
    assert verdict("baseline", "![figure](img.png)", max_length=0, max_length_skips_image_alt_tags=True)
    assert not verdict("baseline", "![figure](img.png)", max_length=0)


# loading


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"type": "sparkle"}, "unknown test type 'sparkle'"),
        ({"type": "present"}, "missing field(s) for a present test: text"),
        ({"type": "present", "text": "x", "colour": "red"}, "unknown field(s) for a present test: colour"),
        ({"type": "present", "text": "  "}, "field 'text' cannot be empty"),
        ({"type": "present", "text": "x", "max_diffs": -1}, "max_diffs"),
        ({"type": "math", "math": ""}, "non-empty formula"),
    ],
)
def test_invalid_records(record: dict[str, Any], message: str) -> None:
    with pytest.raises(BenchTestError) as caught:
        load_test({"pdf": "doc.pdf", "page": 1, "id": "t1", **record})
    assert message in str(caught.value)


# scoring


def write_bench(tmp_path: Path, files: dict[str, list[Any]], pdfs: list[str], outputs: dict[str, str]) -> Path:
    (tmp_path / "pdfs").mkdir()
    for pdf in pdfs:
        (tmp_path / "pdfs" / pdf).write_bytes(b"%PDF-1.4\n")
    for name, lines in files.items():
        text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
        (tmp_path / name).write_text(text + "\n", encoding="utf-8")
    out = tmp_path / "candidate"
    out.mkdir()
    for name, text in outputs.items():
        (out / name).write_text(text, encoding="utf-8")
    return out


def present(test_id: str, text: str, pdf: str = "a.pdf") -> dict[str, Any]:
    return {"pdf": pdf, "page": 1, "id": test_id, "type": "present", "text": text}


def test_score_bench_repeats_files_and_baselines(tmp_path: Path) -> None:
    outputs = write_bench(
        tmp_path,
        {
            "one.jsonl": [present("p1", "alpha"), present("p2", "beta"), present("p3", "gamma")],
            "two.jsonl": [present("q1", "delta", pdf="b.pdf")],
        },
        ["a.pdf", "b.pdf"],
        {
            # alpha in 2 of 3 repeats (passes), beta in 1 of 3 (fails), gamma in none
            "a_pg1_repeat1.md": "alpha beta",
            "a_pg1_repeat2.md": "alpha",
            "a_pg1_repeat3.md": "nothing",
            "b_pg1_repeat1.md": "delta",
            "b_pg1_repeat2.md": "other",  # 1 of 2 is not a majority
        },
    )
    report = score_bench(tmp_path, outputs)
    verdicts = {row["id"]: row["pass"] for row in report.tests}
    assert verdicts == {
        "p1": True,
        "p2": False,
        "p3": False,
        "q1": False,
        "a.pdf_baseline": True,
        "b.pdf_baseline": True,
    }
    assert report.per_file == {"one.jsonl": pytest.approx(1 / 3), "two.jsonl": 0.0, "baseline": 1.0}
    assert report.overall == pytest.approx((1 / 3 + 0 + 1) / 3)
    assert 0.0 <= report.ci_low <= report.overall <= report.ci_high <= 1.0
    assert report.problems == []
    explanation = next(row["explanation"] for row in report.tests if row["id"] == "p2")
    assert explanation.startswith("1/3 repeats passed; 'beta' not found")
    assert json.loads(report.to_json())["per_file"]["two.jsonl"] == 0.0


def test_bad_inputs_become_problems_and_the_rest_is_scored(tmp_path: Path) -> None:
    outputs = write_bench(
        tmp_path,
        {
            "t.jsonl": [
                present("ok", "alpha"),
                '{"pdf": "a.pdf", "page": 1, "id": "broken", ',
                {"pdf": "a.pdf", "page": 1, "id": "odd", "type": "sparkle"},
                present("ok", "alpha"),
                present("lost", "alpha", pdf="missing.pdf"),
                "[1, 2]",
                present("nopage", "x", pdf="c.pdf"),
            ]
        },
        ["a.pdf", "c.pdf"],
        {"a_pg1_repeat1.md": "alpha"},
    )
    report = score_bench(tmp_path, outputs)
    assert report.problems[:5] == [
        "t.jsonl:2: malformed JSON (Expecting property name enclosed in double quotes at column 45)",
        "t.jsonl:3: test 'odd': unknown test type 'sparkle'"
        " (known: absent, baseline, footnote, format, math, order, present, table)",
        "t.jsonl:4: duplicate test id 'ok' (first in t.jsonl:1), skipped",
        "t.jsonl:5: test 'lost': PDF pdfs/missing.pdf not found, skipped",
        "t.jsonl:6: expected a JSON object, got list",
    ]
    assert len(report.problems) == 6 and "no output c_pg1_repeat*.md for c.pdf page 1" in report.problems[5]
    verdicts = {row["id"]: row["pass"] for row in report.tests}
    assert verdicts == {"ok": True, "nopage": False, "a.pdf_baseline": True, "c.pdf_baseline": False}
    assert report.per_file == {"t.jsonl": 0.5, "baseline": 0.5}


def test_score_bench_requires_a_bench_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        score_bench(tmp_path / "nope", tmp_path)
    (tmp_path / "t.jsonl").write_text("")
    with pytest.raises(UsageError):
        score_bench(tmp_path, tmp_path / "nope")


def test_examples_bench_is_scored_reproducibly() -> None:
    first = score_bench(EXAMPLES, EXAMPLES / "docvl_example")
    second = score_bench(EXAMPLES, EXAMPLES / "docvl_example")
    assert first.problems == []
    assert first.per_file == {"table.jsonl": 0.6, "text.jsonl": pytest.approx(4 / 7), "baseline": 1.0}
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)
    assert first.ci_low < first.overall < first.ci_high
