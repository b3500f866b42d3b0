"""Text normalizations used before comparing OCR output with ground truth.

Two on purpose, never mixed:

* `normalize_text` is docvl's own normalization for generation metrics (edit distance, TEDS cell
  text). It removes differences that are typography, not recognition: Unicode compatibility forms
  (NFKC, so the ligature "ﬁ" is "fi" and full-width "Ａ" is "A"; note it also turns "x²" into "x2"),
  curly quotes, the dash family, `<br>` line breaks, Markdown emphasis markers and whitespace runs.
* `bench_normalize` reproduces olmOCR-bench's `normalize_text` (allenai/olmocr f7cfe4c, bench/tests.py) step
  by step, because bench verdicts must be comparable with published olmOCR-bench numbers.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u2032": "'",  # ′
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
}
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u00ad"
_GENERATION_TABLE = str.maketrans({**_QUOTES, **{d: "-" for d in _DASHES}})

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_STRONG = re.compile(r"\*\*|__")
# A single * or _ opening before a non-space and closing after one, not inside a word (snake_case).
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Normalize OCR text for generation metrics, so that only recognition errors count.

    Steps, in order: NFKC; curly quotes and primes to ' and "; hyphen and dash variants (including
    the minus sign and soft hyphen) to '-'; `<br>`, `<br/>`, `<br />` to a space; `**` and `__`
    removed; single `*`/`_` emphasis pairs unwrapped (a lone `*` bullet or a snake_case `_` stays);
    whitespace runs collapsed to one space and the ends stripped.
    """
    text = unicodedata.normalize("NFKC", text).translate(_GENERATION_TABLE)
    text = _BR.sub(" ", text)
    text = _STRONG.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    return _SPACES.sub(" ", text).strip()


_BENCH_STEPS = (
    (re.compile(r"<br/?>"), " "),
    (re.compile(r"\*\*(.*?)\*\*"), r"\1"),
    (re.compile(r"__(.*?)__"), r"\1"),
    (re.compile(r"</?b>"), ""),
    (re.compile(r"</?i>"), ""),
    (re.compile(r"(\*\*|__)(.*?)\1"), r"\2"),
    (re.compile(r"(\*|_)(.*?)\1"), r"\2"),
    (_SPACES, " "),
)
_BENCH_TABLE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\uff3f": "_",
        "\u2013": "-",
        "\u2014": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2212": "-",
        "\u00b5": "\u03bc",
    }
)


def bench_normalize(text: str) -> str:
    """olmOCR-bench's text normalization, same steps in the same order.

    `<br>`/`<br/>` (lower case, no space) to a space; `**x**`, `__x__`, `<b>`, `<i>` and then any
    `*x*` / `_x_` pair unwrapped, even inside words, but only within one line (a marker ending a line
    never pairs with one opening the next); then whitespace runs to one space (ends kept); NFC; a
    fixed table of quotes and dashes to ASCII, full-width low line to '_', micro sign to mu.
    """
    for pattern, replacement in _BENCH_STEPS:
        text = pattern.sub(replacement, text)
    return unicodedata.normalize("NFC", text).translate(_BENCH_TABLE)
