"""Bit-parallel string matching: Levenshtein, LCS and the fuzzy-match decisions olmOCR-bench makes.

olmOCR-bench decides with rapidfuzz (`ratio`, `partial_ratio`) and fuzzysearch (`find_near_matches`).
Neither may be a dependency, and a plain dynamic programme is too slow in Python for whole pages, so
this module uses the bit-vector algorithms (Myers 1999 for edit distance, Hyyro 2004 for LCS): one
pass over the text with a handful of integer operations per character, whatever the pattern length
(Python integers are arbitrary width).

Thresholds are passed as exact fractions `(num, den)` so that verdicts at the boundary do not depend
on float rounding.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

Threshold = tuple[int, int]


def _char_masks(pattern: str) -> dict[str, int]:
    masks: dict[str, int] = {}
    bit = 1
    for ch in pattern:
        masks[ch] = masks.get(ch, 0) | bit
        bit <<= 1
    return masks


def levenshtein(a: str, b: str) -> int:
    """Levenshtein distance (unit insert, delete, substitute) in O(len(a) * len(b) / word) time."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    if a.startswith(b) or a.endswith(b):
        return len(a) - len(b)
    return deque(edit_distances(b, a, anywhere=False), maxlen=1)[0]


def edit_distances(pattern: str, text: str, *, anywhere: bool) -> Iterator[int]:
    """Yield, after each character of `text`, the Levenshtein distance of `pattern` to the text read so far.

    With `anywhere=False` that is the distance to the whole prefix (global alignment); with
    `anywhere=True` the match may start at any position, so the value is the smallest distance of
    `pattern` to any substring ending there (Sellers' approximate search). Requires a non-empty pattern.
    """
    m = len(pattern)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    masks = _char_masks(pattern)
    carry = 0 if anywhere else 1
    pv, mv, score = mask, 0, m
    for ch in text:
        eq = masks.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | carry) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
        yield score


def lcs_prefix_lengths(pattern: str, text: str) -> Iterator[int]:
    """Yield LCS(pattern, text[:i]) for i = 1..len(text) (Hyyro's bit-vector LCS)."""
    m = len(pattern)
    mask = (1 << m) - 1
    masks = _char_masks(pattern)
    v = mask
    for ch in text:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & mask
        yield m - v.bit_count()


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of `a` and `b`."""
    if not a or not b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    return deque(lcs_prefix_lengths(b, a), maxlen=1)[0]


def _reaches(common: int, total: int, threshold: Threshold) -> bool:
    """Is the Indel similarity 2*common/total at least num/den?"""
    num, den = threshold
    return 2 * common * den >= num * total


def ratio_reaches(a: str, b: str, threshold: Threshold) -> bool:
    """rapidfuzz `fuzz.ratio(a, b) / 100 >= threshold`, decided exactly (two empty strings are equal)."""
    total = len(a) + len(b)
    if total == 0:
        return threshold[0] <= threshold[1]
    if not _reaches(min(len(a), len(b)), total, threshold):
        return False
    return _reaches(lcs_length(a, b), total, threshold)


def _regions(pattern: str, text: str, max_dist: int) -> list[tuple[int, int]]:
    """Spans of `text` that hold every substring within `max_dist` edits of `pattern`.

    Pigeonhole filter: cut the pattern into max_dist + 1 pieces; a close match contains one of them
    unchanged, and lies within max_dist characters of where that piece puts it. Pieces are found
    with `str.find`, so only the text around them is scanned bit by bit.
    """
    m, n, pieces = len(pattern), len(text), max_dist + 1
    if m < 3 * pieces:
        return [(0, n)]
    spans = []
    for i in range(pieces):
        offset, piece = m * i // pieces, pattern[m * i // pieces : m * (i + 1) // pieces]
        pos = text.find(piece)
        while pos != -1:
            spans.append((max(0, pos - offset - max_dist), min(n, pos - offset + m + max_dist)))
            pos = text.find(piece, pos + 1)
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def close_ends(pattern: str, text: str, max_dist: int) -> Iterator[int]:
    """End offsets (inclusive) of substrings of `text` within `max_dist` edits of `pattern`, ascending."""
    for lo, hi in _regions(pattern, text, max_dist):
        for i, dist in enumerate(edit_distances(pattern, text[lo:hi], anywhere=True)):
            if dist <= max_dist:
                yield lo + i


def match_starts(pattern: str, text: str, max_dist: int) -> list[int]:
    """Start offsets of substrings of `text` within `max_dist` edits of `pattern`, ascending.

    Exact search when `max_dist` is 0. Otherwise every start that begins some close-enough substring
    is listed (found as ends of the reversed pattern in the reversed text).
    """
    if max_dist <= 0:
        starts, pos = [], text.find(pattern)
        while pos != -1:
            starts.append(pos)
            pos = text.find(pattern, pos + 1)
        return starts
    n = len(text)
    return sorted(n - 1 - end for end in close_ends(pattern[::-1], text[::-1], max_dist))


def _edges_reach(needle: str, hay: str, threshold: Threshold) -> bool:
    """Do the windows rapidfuzz slides partly off either end of `hay` reach the threshold?

    Those windows are hay[:l] and hay[-l:] for l < len(needle); they are scored against the whole
    needle, so a match cut off at the start or end of a page is judged more leniently.
    """
    m = len(needle)
    head = hay[: m - 1]
    for length, common in enumerate(lcs_prefix_lengths(needle, head), start=1):
        if _reaches(common, m + length, threshold):
            return True
    tail = hay[len(hay) - (m - 1) :][::-1] if m > 1 else ""
    for length, common in enumerate(lcs_prefix_lengths(needle[::-1], tail), start=1):
        if _reaches(common, m + length, threshold):
            return True
    return False


def _full_window_reaches(needle: str, hay: str, need: int) -> bool:
    """Has some window of `hay` as long as `needle` an LCS of at least `need` with it?

    A window with LCS >= m - k holds a substring (first to last matched character) within 2k Indel,
    hence 2k Levenshtein, edits of the needle, ending k or fewer characters before the window's end.
    One bit-parallel search finds those ends; only the windows around them are measured.
    """
    m = len(needle)
    k = m - need
    if k == 0:
        return needle in hay
    last_start = len(hay) - m
    measured: set[int] = set()
    for end in close_ends(needle, hay, 2 * k):
        for start in range(max(0, end - m + 1), min(end - m + k + 1, last_start) + 1):
            if start not in measured:
                measured.add(start)
                if lcs_length(needle, hay[start : start + m]) >= need:
                    return True
    return False


def partial_ratio_reaches(a: str, b: str, threshold: Threshold) -> bool:
    """rapidfuzz `fuzz.partial_ratio(a, b) / 100 >= threshold`, decided exactly.

    partial_ratio aligns the shorter string against every same-length window of the longer one, and
    against the windows that slide partly off either end, and keeps the best Indel similarity; with
    equal lengths both roles are tried.
    """
    needle, hay = (a, b) if len(a) <= len(b) else (b, a)
    m = len(needle)
    num, den = threshold
    if num <= 0:
        return True
    if m == 0:
        return len(hay) == 0
    need = -(-num * m // den)  # ceil: the LCS a full window needs
    if need <= m and _full_window_reaches(needle, hay, need):
        return True
    if _edges_reach(needle, hay, threshold):
        return True
    return len(a) == len(b) and _edges_reach(hay, needle, threshold)
