"""Generation metrics: edit distance per page and pooled, and TEDS for HTML tables.

Inputs are compared as given; call `docvl.scoring.normalize.normalize_text` on both sides first when
typography should not count (TEDS does that for cell text itself).
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

from docvl.scoring.normalize import normalize_text
from docvl.scoring.tables import Node, parse_html_tables

__all__ = ["levenshtein", "normalized_edit_distance", "pooled_edit_distance", "teds", "tree_edit_distance"]


def levenshtein(a: str, b: str) -> int:
    """Levenshtein distance (unit insert, delete, substitute), rapidfuzz's implementation."""
    return Levenshtein.distance(a, b)


def normalized_edit_distance(prediction: str, reference: str) -> float:
    """Edit distance divided by the longer length: 0.0 identical, 1.0 nothing in common (two empties: 0)."""
    longest = max(len(prediction), len(reference))
    return levenshtein(prediction, reference) / longest if longest else 0.0


def pooled_edit_distance(pairs: Iterable[tuple[str, str]]) -> float:
    """Sum of distances over sum of longer lengths, so long pages weigh by their length, not as one page."""
    total_distance = total_length = 0
    for prediction, reference in pairs:
        total_distance += levenshtein(prediction, reference)
        total_length += max(len(prediction), len(reference))
    return total_distance / total_length if total_length else 0.0


def _postorder(root: Node) -> tuple[list[Node], list[int]]:
    """Nodes in post-order and, for each, the post-order index of its leftmost leaf."""
    nodes: list[Node] = []
    leftmost: list[int] = []

    def visit(node: Node) -> int:
        first = None
        for child in node.children:
            child_leftmost = visit(child)
            first = child_leftmost if first is None else first
        nodes.append(node)
        leftmost.append(len(nodes) - 1 if first is None else first)
        return leftmost[-1]

    visit(root)
    return nodes, leftmost


def _keyroots(leftmost: list[int]) -> list[int]:
    """The highest node for each distinct leftmost leaf, ascending (Zhang & Shasha 1989)."""
    highest: dict[int, int] = {}
    for index, leaf in enumerate(leftmost):
        highest[leaf] = index
    return sorted(highest.values())


def tree_edit_distance(a: Node, b: Node, structure_only: bool = False) -> float:
    """Zhang-Shasha tree edit distance with the PubTabNet / OmniDocBench TEDS costs.

    Insert and delete cost 1. Renaming costs 1 when tag, colspan or rowspan differ; between two cells
    (td or th) it costs the normalized edit distance of their normalized texts, unless
    `structure_only`; otherwise 0.
    """
    nodes_a, left_a = _postorder(a)
    nodes_b, left_b = _postorder(b)

    texts_a = [normalize_text(node.text) for node in nodes_a]
    texts_b = [normalize_text(node.text) for node in nodes_b]

    def rename(i: int, j: int) -> float:
        x, y = nodes_a[i], nodes_b[j]
        if x.tag != y.tag or x.colspan != y.colspan or x.rowspan != y.rowspan:
            return 1.0
        if structure_only or x.tag not in ("td", "th"):
            return 0.0
        return normalized_edit_distance(texts_a[i], texts_b[j])

    tree = [[0.0] * len(nodes_b) for _ in nodes_a]
    for i in _keyroots(left_a):
        for j in _keyroots(left_b):
            li, lj = left_a[i], left_b[j]
            rows, cols = i - li + 2, j - lj + 2
            forest = [[0.0] * cols for _ in range(rows)]
            for x in range(1, rows):
                forest[x][0] = x
            for y in range(1, cols):
                forest[0][y] = y
            for x in range(1, rows):
                ai = li + x - 1
                for y in range(1, cols):
                    bj = lj + y - 1
                    if left_a[ai] == li and left_b[bj] == lj:
                        best = min(forest[x - 1][y] + 1, forest[x][y - 1] + 1, forest[x - 1][y - 1] + rename(ai, bj))
                        tree[ai][bj] = best
                    else:
                        p, q = left_a[ai] - li, left_b[bj] - lj
                        best = min(forest[x - 1][y] + 1, forest[x][y - 1] + 1, forest[p][q] + tree[ai][bj])
                    forest[x][y] = best
    return tree[-1][-1]


def _count(node: Node) -> int:
    return 1 + sum(_count(child) for child in node.children)


def teds(prediction_html: str, reference_html: str, structure_only: bool = False) -> float:
    """Tree-Edit-Distance-based Similarity of the first `<table>` in each: 1 - distance / max(node count).

    1.0 is a perfect table; a prediction without a table scores 0.0. `structure_only` gives TEDS-S
    (cell text ignored).
    """
    predicted, expected = parse_html_tables(prediction_html), parse_html_tables(reference_html)
    if not predicted or not expected:
        return 1.0 if not predicted and not expected else 0.0
    a, b = predicted[0], expected[0]
    return 1.0 - tree_edit_distance(a, b, structure_only) / max(_count(a), _count(b))
