"""Is a LaTeX formula present in OCR output? olmOCR-bench's math test without a browser.

olmOCR-bench renders the expected formula and every formula in the output with KaTeX in headless
Chromium and passes when the expected MathML is contained in an output's MathML (or, failing that,
when every rendered glyph of the expected formula has a glyph with the same text and the same
neighbours in the output's rendering: fonts do not count there). We canonicalize the parsed LaTeX
instead, so that spellings KaTeX draws with the same glyphs in the same places compare equal, and
pass when the expected tokens occur as a contiguous run in the tokens of one formula of the output,
at the same script level (the analogue of MathML containment and of the glyph-neighbour match: a
formula written at full size is not found inside another formula's subscript, drawn smaller).

Canonical form: whitespace, spacing commands (`\\,`, `\\quad`, `~`...), sizing (`\\left`, `\\big`...)
and style switches (`\\displaystyle`) are dropped; synonyms are unified (`\\dfrac` = `\\frac`,
`\\le` = `\\leq`, `\\to` = `\\rightarrow`, `\\lvert` = `|`...); common Unicode symbols become their
commands (α = `\\alpha`, × = `\\times`, − = `-`); `'` is `^\\prime`; font and text commands
(`\\mathcal`, `\\mathrm`, `\\mathbf`, `\\text`, `\\operatorname`...) are replaced by the glyphs of their
argument, and named operators by their letters (`\\mathcal{I}` = `I`, `\\text{Ann}` =
`\\operatorname{Ann}` = `Ann`, `\\sin` = `sin`); a brace group holding one item loses its braces (`x^{2}` = `x^2`,
`\\frac{1}{2}` = `\\frac12`); a superscript written before its subscript is put after it.

Tokens come from `docvl.latex.tokenize` (KaTeX's lexer rules); its whitespace tokens are dropped.
"""

from __future__ import annotations

import re

from docvl.latex import tokenize

_DROP = frozenset(
    r"\, \; \: \! \> \  ~ \quad \qquad \thinspace \medspace \thickspace \enspace \negthinspace"
    r" \displaystyle \textstyle \scriptstyle \scriptscriptstyle \limits \nolimits \nonumber \notag"
    r" \big \Big \bigg \Bigg \bigl \bigr \Bigl \Bigr \biggl \biggr \Biggl \Biggr \bigm \Bigm".split(" ")
) | {"\\ ", " "}
_DELIMITER_SIZERS = frozenset({"\\left", "\\right", "\\middle"})
_SYNONYMS = {
    "\\dfrac": "\\frac",
    "\\tfrac": "\\frac",
    "\\cfrac": "\\frac",
    "\\dbinom": "\\binom",
    "\\tbinom": "\\binom",
    "\\le": "\\leq",
    "\\ge": "\\geq",
    "\\ne": "\\neq",
    "\\to": "\\rightarrow",
    "\\gets": "\\leftarrow",
    "\\lbrace": "\\{",
    "\\rbrace": "\\}",
    "\\lbrack": "[",
    "\\rbrack": "]",
    "\\vert": "|",
    "\\lvert": "|",
    "\\rvert": "|",
    "\\Vert": "\\|",
    "\\lVert": "\\|",
    "\\rVert": "\\|",
    "\\land": "\\wedge",
    "\\lor": "\\vee",
    "\\lnot": "\\neg",
    "\\ast": "*",
    "\\dots": "\\ldots",
    "\\dotsc": "\\ldots",
    "\\dotso": "\\ldots",
    "\\dotsb": "\\cdots",
    "\\dotsm": "\\cdots",
}
_UNICODE = {
    "−": "-",
    "×": "\\times",
    "·": "\\cdot",
    "÷": "\\div",
    "±": "\\pm",
    "∓": "\\mp",
    "≤": "\\leq",
    "≥": "\\geq",
    "≠": "\\neq",
    "≈": "\\approx",
    "≡": "\\equiv",
    "∼": "\\sim",
    "∞": "\\infty",
    "→": "\\rightarrow",
    "←": "\\leftarrow",
    "⇒": "\\Rightarrow",
    "⇔": "\\Leftrightarrow",
    "∈": "\\in",
    "∉": "\\notin",
    "⊂": "\\subset",
    "⊆": "\\subseteq",
    "∪": "\\cup",
    "∩": "\\cap",
    "∑": "\\sum",
    "∏": "\\prod",
    "∫": "\\int",
    "∂": "\\partial",
    "∇": "\\nabla",
    "…": "\\ldots",
    "⋯": "\\cdots",
    "∀": "\\forall",
    "∃": "\\exists",
    "∅": "\\emptyset",
    "ℓ": "\\ell",
    "′": "\\prime",
    "⟨": "\\langle",
    "⟩": "\\rangle",
    "ϵ": "\\epsilon",
    "ϕ": "\\phi",
    "ϑ": "\\vartheta",
    **{
        chr(0x3B1 + i): "\\" + name
        for i, name in enumerate(
            "alpha beta gamma delta varepsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho"
            " varsigma sigma tau upsilon varphi chi psi omega".split()
        )
        if name != "omicron"
    },
    **{
        letter: "\\" + name
        for letter, name in zip("ΓΔΘΛΞΠΣΦΨΩ", "Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega".split(), strict=True)
    },
}
# Commands that change only the font of their argument. KaTeX draws the same glyphs (the reference
# matches rendered glyphs by text and position), so `\\mathcal{I}` = `I` and `\\text{Ann}` = `\\operatorname{Ann}`.
_FONTS = frozenset(
    r"\mathcal \mathrm \mathbf \mathit \mathsf \mathtt \mathbb \mathfrak \mathscr \mathnormal \boldsymbol \bm"
    r" \text \textrm \textit \textbf \textsf \texttt \textnormal \textup \operatorname \operatorname* \mbox"
    r" \rm \bf \it \cal \sf \tt".split()
)
_FONT = "\x01font"
_OPERATORS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp lim liminf limsup"
    " max min sup inf det dim deg gcd hom ker arg Pr".split()
)

Tree = list["str | Tree"]


def _unify(tokens: list[str]) -> list[str]:
    out: list[str] = []
    skip_dot = False
    for token in tokens:
        if skip_dot and token == ".":
            skip_dot = False
            continue
        skip_dot = token in _DELIMITER_SIZERS
        if skip_dot or token in _DROP:
            continue
        token = _UNICODE.get(token, _SYNONYMS.get(token, token))
        if token == "'":
            out += ["^", "\\prime"]
        elif token[1:] in _OPERATORS and token[0] == "\\":
            out += list(token[1:])
        elif token in _FONTS:
            out.append(_FONT)
        else:
            out.append(token)
    return out


def _nest(tokens: list[str]) -> Tree:
    """Brace groups as nested lists; unbalanced braces are kept as plain tokens."""
    root: Tree = []
    stack = [root]
    for token in tokens:
        if token == "{":
            group: Tree = []
            stack[-1].append(group)
            stack.append(group)
        elif token == "}" and len(stack) > 1:
            stack.pop()
        else:
            stack[-1].append(token)
    return root


def _simplify(tree: Tree) -> Tree:
    items: Tree = []
    font = False
    for item in tree:
        if item == _FONT:
            font = True
            continue
        if isinstance(item, list):
            item = _simplify(item)
            if font:  # a font switch's argument is drawn as its glyphs, in line
                items += item
                font = False
                continue
            while isinstance(item, list) and len(item) == 1:
                item = item[0]
        font = False
        items.append(item)
    for i in range(len(items) - 3):
        if items[i] == "^" and items[i + 2] == "_":
            items[i : i + 4] = [*items[i + 2 : i + 4], *items[i : i + 2]]
    return items


def _flatten(tree: Tree, depth: int | None = None) -> list[str]:
    """Tokens with brace groups written out; with a `depth`, each prefixed by its script level.

    The script level counts the sub/superscripts a token sits in: KaTeX draws those smaller and
    shifted, so a formula written at full size does not match its copy inside another's subscript.
    """
    out: list[str] = []
    script = False
    for item in tree:
        level = None if depth is None else depth + script
        if isinstance(item, list):
            inner = _flatten(item, level)
            out += [_mark("{", level), *inner, _mark("}", level)]
        else:
            out.append(_mark(item, level))
        script = item in ("^", "_")
    return out


def _mark(token: str, level: int | None) -> str:
    return token if level is None else f"{level}\x02{token}"


def _tree(latex: str) -> Tree:
    return _simplify(_nest(_unify(tokenize(latex))))


def canonical_tokens(latex: str) -> list[str]:
    """The canonical token sequence of a formula (see the module docstring)."""
    return _flatten(_tree(latex))


def _placed(latex: str) -> str:
    """Canonical tokens with their script levels, joined so that `in` finds contiguous runs."""
    return "\x00" + "\x00".join(_flatten(_tree(latex), 0)) + "\x00"


_DELIMITED = (r"\\\((.+?)\\\)", r"\\\[(.+?)\\\]")
_DOLLARS = (r"\$\$(.+?)\$\$", r"\$(.+?)\$")


def find_equations(markdown: str, include_dollars: bool = True) -> list[str]:
    """Formulas in `\\( \\)`, `\\[ \\]`, then `$$ $$`, then `$ $`, each kind removed before the next.

    Same spans, same order of extraction as olmOCR-bench, so a `$` inside an already found
    `\\( \\)` formula cannot open a dollar span.
    """
    equations: list[str] = []
    for pattern in _DELIMITED + (_DOLLARS if include_dollars else ()):
        regex = re.compile(pattern, re.DOTALL)
        equations += [found.strip() for found in regex.findall(markdown)]
        markdown = regex.sub("", markdown)
    return equations


def formula_present(expected: str, equations: list[str]) -> bool:
    """Does one of `equations` equal `expected` or contain it after canonicalization?"""
    if expected in equations:
        return True
    needle = _placed(expected)
    if needle == "\x00\x00":
        return False
    return any(needle in _placed(eq) for eq in equations)
