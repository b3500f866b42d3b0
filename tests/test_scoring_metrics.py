"""Normalization, edit distance and TEDS against hand-computed values."""

from __future__ import annotations

import random

import pytest

from docvl.scoring import (
    bench_normalize,
    levenshtein,
    normalize_text,
    normalized_edit_distance,
    pooled_edit_distance,
    teds,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﬁnal ﬂow ﬀ", "final flow ff"),
        ("“quoted” and ‘single’ and ‚low‘", "\"quoted\" and 'single' and 'low'"),
        ("a‐b‑c‒d–e—f―g−h", "a-b-c-d-e-f-g-h"),
        ("one<br>two<br/>three<BR />four", "one two three four"),
        ("**bold** and __strong__ and *it* and _em_", "bold and strong and it and em"),
        ("snake_case_name and 2 * 3 * 4", "snake_case_name and 2 * 3 * 4"),
        ("* bullet item", "* bullet item"),
        ("  many \t spaces\n\nand lines  ", "many spaces and lines"),
        ("Ｆｕｌｌ　ｗｉｄｔｈ", "Full width"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a<br>b<br/>c", "a b c"),
        ("  x \n\n y ", " x y "),
        ("**bold** *it* __u__ <b>b</b><i>i</i>", "bold it u bi"),
        ("snake_case_name", "snakecasename"),  # the reference unwraps _..._ even inside words
        ("“a” ‘b’ – — − ‑ ‒ ＿ µ", "\"a\" 'b' - - - - - _ μ"),
        ("e\u0301", "é"),
        ("ﬁ", "ﬁ"),  # NFC, not NFKC: ligatures stay
    ],
)
def test_bench_normalize_follows_the_reference(raw: str, expected: str) -> None:
    assert bench_normalize(raw) == expected


def _dp_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("", "abc", 3),
        ("abc", "", 3),
        ("same", "same", 0),
        ("abc", "xabcx", 2),
        ("αβγ", "αγ", 1),
        ("", "", 0),
    ],
)
def test_levenshtein_hand_values(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_levenshtein_agrees_with_dynamic_programming_on_long_random_strings() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 150)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 150)))
        assert levenshtein(a, b) == _dp_levenshtein(a, b)


def test_normalized_and_pooled_edit_distance() -> None:
    assert normalized_edit_distance("abc", "abd") == pytest.approx(1 / 3)
    assert normalized_edit_distance("", "") == 0.0
    assert normalized_edit_distance("", "xyz") == 1.0
    pairs = [("abc", "abd"), ("", "xyz"), ("hello", "hello")]
    assert pooled_edit_distance(pairs) == pytest.approx((1 + 3 + 0) / (3 + 3 + 5))
    assert pooled_edit_distance([]) == 0.0


TABLE = "<table><tr><td>{}</td><td>{}</td></tr></table>"


@pytest.mark.parametrize(
    ("prediction", "reference", "score"),
    [
        (TABLE.format("ab", "c"), TABLE.format("ab", "c"), 1.0),
        # 4 nodes (table, tr, td, td); one cell renamed at cost NED("c", "d") = 1
        (TABLE.format("ab", "d"), TABLE.format("ab", "c"), 1 - 1 / 4),
        # NED("abce", "abcd") = 1/4, so distance 0.25 over 4 nodes
        (TABLE.format("abce", "c"), TABLE.format("abcd", "c"), 1 - 0.25 / 4),
        # a cell missing: one deletion over max(3, 4) nodes
        ("<table><tr><td>ab</td></tr></table>", TABLE.format("ab", "c"), 1 - 1 / 4),
        # colspan differs: rename (cost 1) plus one insertion
        ('<table><tr><td colspan="2">ab</td></tr></table>', TABLE.format("ab", "c"), 1 - 2 / 4),
        # th vs td is a rename of cost 1; thead adds a node to the reference (6 nodes)
        (
            "<table><tr><td>h</td></tr><tr><td>x</td></tr></table>",
            "<table><thead><tr><th>h</th></tr></thead><tr><td>x</td></tr></table>",
            1 - 2 / 6,
        ),
        ("no table here", TABLE.format("a", "b"), 0.0),
    ],
)
def test_teds_hand_computed(prediction: str, reference: str, score: float) -> None:
    assert teds(prediction, reference) == pytest.approx(score)


def test_teds_structure_only_ignores_text_and_normalizes_cells() -> None:
    assert teds(TABLE.format("ab", "d"), TABLE.format("ab", "c"), structure_only=True) == 1.0
    assert teds(TABLE.format("**ﬁ**", "“x”"), TABLE.format("fi", '"x"')) == 1.0


def test_teds_tolerates_unclosed_cells_and_rows() -> None:
    assert (
        teds(
            "<table><tr><td>a<td>b<tr><td>c<td>d</table>",
            "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>",
        )
        == 1.0
    )
