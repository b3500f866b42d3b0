"""Scoring core: text normalization, edit distance, TEDS, olmOCR-bench unit tests and their runner.

Below every stage (train, infer, eval import it; it imports none of them) and free of model, torch and HTTP
imports, so training rewards, convert and `docvl eval` score pages the same way.
"""

from docvl.scoring.bench import BenchReport, score_bench
from docvl.scoring.metrics import levenshtein, normalized_edit_distance, pooled_edit_distance, teds
from docvl.scoring.normalize import bench_normalize, normalize_text

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
