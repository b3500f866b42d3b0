"""Evaluation: text normalization, generation metrics (edit distance, TEDS) and olmOCR-bench scoring.

Pure standard library: nothing here needs a model, a GPU or a browser.
"""

from docvl.eval.bench import BenchReport, score_bench
from docvl.eval.metrics import levenshtein, normalized_edit_distance, pooled_edit_distance, teds
from docvl.eval.normalize import bench_normalize, normalize_text

__all__ = [
    "BenchReport",
    "bench_normalize",
    "levenshtein",
    "normalize_text",
    "normalized_edit_distance",
    "pooled_edit_distance",
    "score_bench",
    "teds",
]
