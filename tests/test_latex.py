"""docvl.latex: the KaTeX-free renderability check, its tokenizer and the Markdown math finder.

Every verdict below was checked against KaTeX 0.16.21 itself (bench/latex_agreement.py --oracle labels the
committed corpora the same way); none of these tests needs node.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docvl._katex_commands import ENVIRONMENTS
from docvl.latex import explain, find_math, is_renderable, tokenize

CORPUS = Path(__file__).resolve().parents[1] / "bench" / "data" / "latex_corpus.jsonl"

VALID = [
    r"\frac{a}{b} + \dfrac12",
    r"\sum_{i=1}^{n} x_i^2 = \int_0^\infty e^{-t} \, dt",
    r"\left( \frac{x}{y} \right)^2 \left\{ a \middle| b \right.",
    r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}",
    r"\begin{array}{|c|l|} \hline a & b \\ \hline c & d \end{array}",
    r"f(x) = \begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}",
    r"\begin{aligned} a &= b + c \\ &= d \end{aligned}",
    r"\mathbf{v} \cdot \boldsymbol{\omega} + \mathbb{R}^n \to \mathcal{L}",
    r"\operatorname{Var}(X) + \operatorname*{arg\,max}_x f(x)",
    r"\sqrt[3]{x} + \sqrt{\frac{a}{b}} + \hat{x} + \vec{v} + \overline{AB}",
    r"\mathrm{H}_2\mathrm{O} \xrightarrow[\Delta]{\text{heat}} \mathrm{H}_2 + \mathrm{O}_2",
    r"\overset{!}{=} \underset{x \to 0}{\lim} \stackrel{\text{def}}{=}",
    r"\color{red} x + \textcolor{blue}{y}",
    r"a \neq b \quad c \leq d \qquad e \notin F, \dots, \cdots",
    r"\text{if } x \in \{1, 2\} \text{ and } \textbf{bold}",
    r"\newcommand{\RR}{\mathbb{R}} \RR^n",
    r"\def\f#1{f(#1)} \f{x}",
    r"x' + y'' = z^{\prime}",
    r"\binom{n}{k} = {n \choose k}",
    r"α + β² = γ₁",
    r"\not\equiv \nabla \times \mathbf{E} = -\partial_t \mathbf{B}",
    r"\begin{smallmatrix} 1 & 0 \\ 0 & 1 \end{smallmatrix}",
    r"\sum_{\substack{i < j \\ i \neq 0}} a_{ij}",
]
VALID_DISPLAY_ONLY = [
    r"\begin{align} a &= b \\ c &= d \end{align}",
    r"\begin{equation} E = mc^2 \end{equation}",
    r"x = 1 \tag{3}",
]
BROKEN = [
    (r"\frac{a}{b", "unbalanced braces"),
    (r"\frac{a}{b}}", "unbalanced braces"),
    (r"\left( x + y", "\\left without \\right"),
    (r"x + y \right)", "\\right without \\left"),
    (r"\foo{x}", "undefined control sequence \\foo"),
    (r"\begin{matrix} a \end{array}", "mismatched environment: \\begin{matrix} closed by \\end{array}"),
    (r"\begin{pmatrix} a & b", "\\begin{pmatrix} without \\end"),
    (r"\begin{foo} a \end{foo}", "unknown environment {foo}"),
    (r"x^2^3", "double superscript"),
    (r"x_1_2", "double subscript"),
    (r"x^", "nothing after ^"),
    (r"a & b", "misplaced alignment tab &"),
    (r"\frac{a}", "missing argument for \\frac"),
    (r"\text{a^b}", "unexpected ^"),
    (r"x^\sqrt{2}", "needs braces"),
    (r"\left\{ x \right", "missing argument"),
    (r"\left x \right)", "invalid delimiter"),
    (r"\middle| x", "\\middle without \\left"),
    (r"x \limits", "must follow a math operator"),
    (r"\begin{array}{cp} a & b \end{array}", "unknown column alignment"),
    (r"\hline x", "outside an array"),
    (r"a \over b \over c", "only one infix"),
    (r"\newcommand{\alpha}{x}", "redefines an existing command"),
    (r"\,^2", "\\relax"),
    ("x \u0001", "unexpected character"),
]


@pytest.mark.parametrize("latex", VALID)
def test_valid_math_renders_inline_and_display(latex):
    assert explain(latex) is None
    assert is_renderable(latex, display=True)


@pytest.mark.parametrize("latex", VALID_DISPLAY_ONLY)
def test_display_only_constructs(latex):
    assert is_renderable(latex, display=True)
    assert "display" in explain(latex, display=False)


@pytest.mark.parametrize(("latex", "reason"), BROKEN)
def test_broken_math_is_rejected_with_reason(latex, reason):
    assert not is_renderable(latex)
    got = explain(latex, display=True)
    assert got is not None and reason in got
    assert "\n" not in got


def test_every_katex_environment_has_a_body_rule():
    for name, nargs in ENVIRONMENTS.items():
        args = "{c}" if name in ("array", "darray", "subarray") else "{1}" if nargs else ""
        assert explain(rf"\begin{{{name}}}{args} x \end{{{name}}}", display=True) is None, name


def test_tokenize_is_katex_lexing():
    assert tokenize(r"\frac{a}{b}") == ["\\frac", "{", "a", "}", "{", "b", "}"]
    assert tokenize("\\alpha   x\\,\\\\  y") == ["\\alpha", "x", "\\,", "\\\\", " ", "y"]
    assert tokenize("a % comment\nb") == ["a", " ", "b"]
    assert tokenize(r"\verb|a b| \ x") == ["\\verb|a b|", " ", "\\ ", "x"]
    assert tokenize("e\u0301\u2211") == ["e\u0301", "\u2211"]
    assert tokenize("x\u0001") == ["x", "\u0001"]
    assert tokenize("") == []


def test_find_math_spans():
    page = r"Let \(x^2\) be given. Then \[ \begin{matrix} a \\[2pt] b \end{matrix} \] and \\(not math\\)."
    assert find_math(page) == [("x^2", False), (r" \begin{matrix} a \\[2pt] b \end{matrix} ", True)]
    assert find_math(r"price \$5, \(a\) then \[b") == [("a", False)]
    assert find_math("no math here") == []


def test_agrees_with_katex_on_the_committed_corpus():
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(records) >= 3000
    wrong = [r for r in records if is_renderable(r["latex"], r["display"]) != r["ok"]]
    false_accepts = [r for r in wrong if not r["ok"]]
    assert 1 - len(wrong) / len(records) >= 0.97
    assert len(false_accepts) / len(records) <= 0.02
