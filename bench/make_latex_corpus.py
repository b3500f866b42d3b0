"""Generate OCR-style math strings, valid and deliberately broken, for the KaTeX agreement benchmark.

Writes JSON lines {"id", "latex", "display"} (no verdicts); label them with the KaTeX oracle
(`bench/latex_agreement.py --oracle` does both). Two disjoint generator sets keep the evaluation honest:
`--split main` uses the MAIN families, `--split heldout` uses the HELDOUT families plus a different seed, so
the held-out strings share no templates with the ones the checker was tuned on.

    python bench/make_latex_corpus.py --split main --n 3600 --seed 1 > /tmp/main.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable

GREEK = (
    r"\alpha \beta \gamma \delta \epsilon \varepsilon \theta \lambda \mu \nu \pi \rho \sigma \tau "
    r"\phi \varphi \chi \psi \omega \Gamma \Delta \Theta \Lambda \Sigma \Phi \Psi \Omega"
).split()
LETTERS = list("abcdefghijkmnpqrstuvwxyzABCDEFGHKLMNPRSTUVWXYZ")
RELS = (
    r"= < > \leq \geq \neq \approx \sim \equiv \propto \to \mapsto \in \subset \subseteq \ll \gg \simeq "
    r"\cong"
).split()
BINS = r"+ - \pm \cdot \times \div \cup \cap \oplus \otimes \circ \wedge \vee".split()
FUNCS = r"\sin \cos \tan \log \ln \exp \det \max \min \sup \inf \lim \arg \dim \ker \Pr \gcd".split()
ACCENTS = (r"\hat \bar \tilde \vec \dot \ddot \overline \underline \widehat \widetilde \mathring \check \breve").split()
FONTS = r"\mathbf \mathrm \mathcal \mathbb \mathfrak \mathsf \mathit \boldsymbol \mathscr \mathtt \textbf".split()
BIGOPS = r"\sum \prod \int \oint \iint \bigcup \bigcap \coprod \bigoplus".split()
DELIMS = [
    ("(", ")"),
    ("[", "]"),
    ("\\{", "\\}"),
    ("|", "|"),
    ("\\langle", "\\rangle"),
    ("\\lfloor", "\\rfloor"),
    ("\\lceil", "\\rceil"),
    ("\\|", "\\|"),
    (".", "|"),
    ("\\lvert", "\\rvert"),
]
MATRICES = "matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix".split()
UNITS = "pt em mu ex cm mm".split()
ELEMENTS = "H He Li C N O F Na Mg Al Si P S Cl K Ca Fe Cu Zn Ag".split()
WORDS = "if otherwise for all where and s.t. when else is for some with".split()


class Gen:
    """Random building blocks; every family below composes these."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def var(self) -> str:
        r = self.r
        v = r.choice(LETTERS) if r.random() < 0.7 else r.choice(GREEK)
        if r.random() < 0.25:
            v += "_" + (r.choice("0123456789ijkn") if r.random() < 0.6 else "{" + self.simple() + "}")
        if r.random() < 0.15:
            v = r.choice(ACCENTS) + "{" + v + "}"
        return v

    def num(self) -> str:
        r = self.r
        return str(r.randint(0, 99)) if r.random() < 0.8 else f"{r.randint(0, 9)}.{r.randint(0, 99)}"

    def atom(self) -> str:
        r = self.r
        x = r.random()
        if x < 0.45:
            return self.var()
        if x < 0.65:
            return self.num()
        if x < 0.75:
            return r.choice(FUNCS) + " " + self.var()
        if x < 0.85:
            return r.choice(FONTS) + "{" + self.var() + "}"
        return self.var() + "^{" + self.simple() + "}"

    def simple(self) -> str:
        r = self.r
        parts = [self.atom()]
        for _ in range(r.randint(0, 2)):
            parts += [r.choice(BINS), self.atom()]
        return " ".join(parts)

    def expr(self, depth: int = 0) -> str:
        r = self.r
        if depth > 2:
            return self.simple()
        x = r.random()
        if x < 0.18:
            return rf"\frac{{{self.expr(depth + 1)}}}{{{self.expr(depth + 1)}}}"
        if x < 0.26:
            root = f"[{r.randint(3, 5)}]" if r.random() < 0.3 else ""
            return rf"\sqrt{root}{{{self.expr(depth + 1)}}}"
        if x < 0.36:
            left, right = r.choice(DELIMS)
            mid = rf" \middle| {self.simple()}" if r.random() < 0.1 else ""
            return rf"\left{left} {self.expr(depth + 1)}{mid} \right{right}"
        if x < 0.46:
            return f"{self.var()}^{{{self.expr(depth + 1)}}}"
        if x < 0.54:
            return rf"{self.simple()} {r.choice(BINS)} {self.expr(depth + 1)}"
        if x < 0.6:
            return rf"\binom{{{self.var()}}}{{{self.var()}}}"
        return self.simple()


# ----------------------------------------------------------------------------------------- valid families


def f_equation(g: Gen) -> str:
    return f"{g.expr()} {g.r.choice(RELS)} {g.expr()}"


def f_bigop(g: Gen) -> str:
    r = g.r
    op = r.choice(BIGOPS)
    lim = r"\limits" if r.random() < 0.15 else ""
    upper = r.choice(["n", "N", r"\infty", "m"])
    return rf"{op}{lim}_{{{g.var()}={g.num()}}}^{{{upper}}} {g.expr()}"


def f_integral(g: Gen) -> str:
    r = g.r
    d = r.choice(["x", "t", "s", r"\theta"])
    return rf"\int_{{{g.num()}}}^{{{g.atom()}}} {g.expr()} \, d{d} {r.choice(RELS)} {g.expr()}"


def f_matrix(g: Gen) -> str:
    r = g.r
    env = r.choice(MATRICES)
    rows, cols = r.randint(1, 3), r.randint(1, 3)
    body = r" \\ ".join(" & ".join(g.atom() for _ in range(cols)) for _ in range(rows))
    return rf"{g.var()} = \begin{{{env}}} {body} \end{{{env}}}"


def f_cases(g: Gen) -> str:
    r = g.r
    env = r.choice(["cases", "cases", "dcases", "rcases"])
    rows = r" \\ ".join(
        rf"{g.expr()} & \text{{{r.choice(WORDS)} }} {g.var()} {r.choice(RELS)} {g.num()}"
        for _ in range(r.randint(2, 3))
    )
    return rf"f({g.var()}) = \begin{{{env}}} {rows} \end{{{env}}}"


def f_aligned(g: Gen) -> str:
    r = g.r
    env = r.choice(["aligned", "aligned", "gathered", "split", "align*", "align"])
    rows = r" \\ ".join(f"{g.expr()} &{r.choice(RELS)} {g.expr()}" for _ in range(r.randint(2, 3)))
    if env == "gathered":
        rows = rows.replace("&", "")
    return rf"\begin{{{env}}} {rows} \end{{{env}}}"


def f_array(g: Gen) -> str:
    r = g.r
    cols = r.randint(2, 4)
    spec = "".join(r.choice("lcr") for _ in range(cols))
    if r.random() < 0.4:
        spec = "|" + "|".join(spec) + "|"
    hline = r"\hline " if r.random() < 0.5 else ""
    body = (r" \\ " + hline).join(" & ".join(g.atom() for _ in range(cols)) for _ in range(r.randint(2, 3)))
    return rf"\left( \begin{{array}}{{{spec}}} {hline}{body} \end{{array}} \right)"


def f_chemistry(g: Gen) -> str:
    r = g.r

    def mol() -> str:
        atoms = []
        for _ in range(r.randint(1, 3)):
            count = f"_{{{r.randint(2, 4)}}}" if r.random() < 0.5 else ""
            atoms.append(rf"\mathrm{{{r.choice(ELEMENTS)}}}{count}")
        return "".join(atoms)

    arrow = r.choice([r"\rightarrow", r"\rightleftharpoons", r"\xrightarrow{\Delta}", r"\longrightarrow"])
    charge = r"^{+}" if r.random() < 0.2 else ""
    return f"{r.randint(1, 3)}{mol()} + {mol()}{charge} {arrow} {mol()}"


def f_physics(g: Gen) -> str:
    r = g.r
    x = r.random()
    if x < 0.3:
        return rf"\nabla \cdot \vec{{E}} = \frac{{\rho}}{{\varepsilon_0}}, \quad {g.expr()}"
    if x < 0.6:
        return rf"\hbar \frac{{\partial \psi}}{{\partial t}} = {g.expr()} \psi"
    unit = r.choice(["m", "s", "kg", "J", "N"])
    power = r.choice(["-1", "2", "-2"])
    return rf"{g.var()} = {g.num()} \, \mathrm{{{unit}}}^{{{power}}}"


def f_statistics(g: Gen) -> str:
    r = g.r
    x = r.random()
    if x < 0.3:
        return rf"\mathbb{{E}}[{g.var()}] = \sum_{{i}} {g.var()}_i \, p_i"
    if x < 0.6:
        return rf"\hat{{\beta}} = (X^\top X)^{{-1}} X^\top y, \quad \operatorname{{Var}}({g.var()}) = {g.expr()}"
    return rf"P({g.var()} \mid {g.var()}) = \frac{{P({g.var()}) P({g.var()})}}{{{g.expr()}}}"


def f_text(g: Gen) -> str:
    r = g.r
    return rf"{g.expr()} \quad \text{{{r.choice(WORDS)} }} {g.var()} {r.choice(RELS)} {g.num()}"


def f_misc(g: Gen) -> str:
    r = g.r
    return r.choice(
        [
            rf"\overset{{{g.var()}}}{{\rightarrow}} {g.expr()}",
            rf"\underset{{{g.var()} \to 0}}{{\lim}} {g.expr()}",
            rf"\stackrel{{\text{{def}}}}{{=}} {g.expr()}",
            rf"{g.var()} \not\in {g.var()}",
            rf"\color{{blue}}{{{g.expr()}}} + \textcolor{{red}}{{{g.var()}}}",
            rf"\xrightarrow[{g.var()}]{{{g.var()}}} {g.expr()}",
            rf"\underbrace{{{g.expr()}}}_{{{g.var()}}}",
            rf"\overbrace{{{g.expr()}}}^{{{g.num()}}}",
            rf"\operatorname{{rank}}({g.var()}) \leq {g.num()}",
            rf"{g.var()}' + {g.var()}'' = {g.expr()}",
            rf"\boxed{{{g.expr()}}}",
            rf"\hspace{{{r.randint(1, 5)}{r.choice(UNITS)}}} {g.expr()}",
            rf"{g.var()} \in \{{ {g.var()}, \ldots, {g.var()} \}}",
            rf"\big( {g.expr()} \big)^{{{g.num()}}}",
            rf"\tag{{{r.randint(1, 9)}}} {g.expr()}",
        ]
    )


# held-out families: built differently from the main ones (other environments, macros, unicode, spacing)


def h_alignat(g: Gen) -> str:
    r = g.r
    n = r.randint(1, 2)
    env = r.choice(["alignat", "alignat*", "alignedat"])
    rows = r" \\ ".join(" & ".join(g.simple() for _ in range(r.randint(1, 2 * n))) for _ in range(2))
    return rf"\begin{{{env}}}{{{n}}} {rows} \end{{{env}}}"


def h_macros(g: Gen) -> str:
    r = g.r
    return r.choice(
        [
            rf"\newcommand{{\vv}}[1]{{\mathbf{{#1}}}} \vv{{{g.var()}}} + {g.expr()}",
            rf"\def\RR{{\mathbb{{R}}}} {g.var()} \in \RR^{{{g.num()}}}",
            rf"\renewcommand{{\vec}}[1]{{\boldsymbol{{#1}}}} \vec{{{g.var()}}}",
            rf"\providecommand{{\abs}}[1]{{\lvert #1 \rvert}} \abs{{{g.expr()}}}",
            rf"\let\oldsum\sum \oldsum_{{i}} {g.var()}",
        ]
    )


def h_unicode(g: Gen) -> str:
    r = g.r
    return r.choice(
        [
            f"α + β² = γ₁ {r.choice(RELS)} {g.expr()}",
            f"x ∈ ℝⁿ, \\; {g.expr()} ≤ {g.num()}",
            f"∑_{{i=1}}^n {g.var()} → ∞",
            f"\\text{{café, naïve}} + {g.expr()}",
            f"{g.var()} · {g.var()} ± {g.num()}",
        ]
    )


def h_spacing_fonts(g: Gen) -> str:
    r = g.r
    space = r.choice([r"\,", r"\;", r"\:", r"\!", r"\quad", r"\qquad", r"\ ", "~", r"\enspace", r"\kern1em"])
    style = r.choice([r"\displaystyle", r"\scriptstyle", r"\textstyle", r"\rm", r"\bf", r"\small", r"\large"])
    dots = r.choice([r"\dots", r"\cdots", r"\vdots"])
    return rf"{style} {g.expr()} {space} {g.expr()} {space} {dots}"


def h_nested(g: Gen) -> str:
    r = g.r
    inner = rf"\begin{{pmatrix}} {g.atom()} & {g.atom()} \\ {g.atom()} & {g.atom()} \end{{pmatrix}}"
    return r.choice(
        [
            rf"\left[ {inner} \right]^{{-1}} = \frac{{1}}{{\det {g.var()}}} {inner}",
            rf"\sqrt{{\frac{{{g.expr()}}}{{{g.expr()}}}}} \cdot \left\| {g.var()} \right\|_2",
            rf"\begin{{aligned}} {g.var()} &= {inner} \\ &= {g.expr()} \end{{aligned}}",
            rf"{g.var()} \over {g.var()} + {g.expr()}",
            rf"{{n \choose k}} {g.expr()}",
            rf"\begin{{equation}} {g.expr()} \end{{equation}}",
            rf"\begin{{subarray}}{{c}} {g.var()} \\ {g.var()} \end{{subarray}}",
            rf"\sum_{{\substack{{{g.var()} \\ {g.var()}}}}} {g.expr()}",
        ]
    )


MAIN: list[Callable[[Gen], str]] = [
    f_equation,
    f_bigop,
    f_integral,
    f_matrix,
    f_cases,
    f_aligned,
    f_array,
    f_chemistry,
    f_physics,
    f_statistics,
    f_text,
    f_misc,
]
HELDOUT: list[Callable[[Gen], str]] = [h_alignat, h_macros, h_unicode, h_spacing_fonts, h_nested]

# ----------------------------------------------------------------------------------------- mutations


def m_drop_brace(r: random.Random, s: str) -> str:
    idx = [i for i, c in enumerate(s) if c in "{}" and (i == 0 or s[i - 1] != "\\")]
    if not idx:
        return s + "{"
    i = r.choice(idx)
    return s[:i] + s[i + 1 :]


def m_truncate(r: random.Random, s: str) -> str:
    return s[: r.randint(max(1, len(s) // 3), max(1, len(s) - 1))]


def m_remove_right(r: random.Random, s: str) -> str:
    i = s.find("\\right")
    if i < 0:
        return "\\left( " + s
    j = i + 6
    return s[:i] + s[j + (2 if s[j : j + 1] == "\\" else 1) :]


def m_swap_env(r: random.Random, s: str) -> str:
    i = s.rfind("\\end{")
    if i < 0:
        return s + " \\end{matrix}"
    j = s.index("}", i)
    return s[: i + 5] + r.choice(["array", "matrix", "pmatrix", "cases", "aligned", "bmatrix"]) + s[j:]


def m_misspell(r: random.Random, s: str) -> str:
    cmds = list(re.finditer(r"\\[a-zA-Z]{2,}", s))
    if not cmds:
        return s + " \\foo"
    m = r.choice(cmds)
    name = m.group()
    i = r.randint(1, len(name) - 1)
    bad = name[:i] + r.choice("aeiouxqz") + name[i + 1 :] if r.random() < 0.5 else name[:i] + name[i + 1 :]
    return s[: m.start()] + bad + s[m.end() :]


def m_double_script(r: random.Random, s: str) -> str:
    i = s.find("^")
    if i >= 0 and r.random() < 0.6:
        return s[: i + 1] + "{2}^" + s[i + 1 :]
    return s + r.choice(["^2^3", "_i_j", "^^2", "'^2^3"])


def m_stray_amp(r: random.Random, s: str) -> str:
    i = r.randint(0, len(s))
    return s[:i] + " & " + s[i:]


def m_unknown_env(r: random.Random, s: str) -> str:
    return s.replace("\\begin{", "\\begin{my", 1) if "\\begin{" in s else f"\\begin{{eqn}} {s} \\end{{eqn}}"


def m_extra_close(r: random.Random, s: str) -> str:
    i = r.randint(0, len(s))
    return s[:i] + r.choice(["}", "\\right)", "\\end{array}", "\\)"]) + s[i:]


def m_bad_arg(r: random.Random, s: str) -> str:
    return s + r.choice(["^", "_", r" \frac{a}", r" \sqrt", r"\left", r" x^\sqrt{2}", r" \text{a^b}", "#"])


MUTATIONS = [
    m_drop_brace,
    m_truncate,
    m_remove_right,
    m_swap_env,
    m_misspell,
    m_double_script,
    m_stray_amp,
    m_unknown_env,
    m_extra_close,
    m_bad_arg,
]


def generate(split: str, n: int, seed: int) -> list[dict]:
    """`n` records: about half valid-by-construction strings, half mutated (a mutation may still render)."""
    rng = random.Random(seed)
    g = Gen(rng)
    families = MAIN if split == "main" else HELDOUT
    out, seen = [], set()
    while len(out) < n:
        latex = rng.choice(families)(g)
        if rng.random() < 0.5:
            latex = rng.choice(MUTATIONS)(rng, latex)
        display = rng.random() < 0.5
        if (latex, display) in seen:
            continue
        seen.add((latex, display))
        out.append({"id": f"{split}-{len(out)}", "latex": latex, "display": display})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["main", "heldout"], default="main")
    ap.add_argument("--n", type=int, default=3600)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    for rec in generate(args.split, args.n, args.seed):
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
