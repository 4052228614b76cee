"""Ground-truth tables and the metrics that compare proxy scores with them."""

from trainfree.evaluate.correlation import (
    CORRELATE_METRICS,
    bootstrap_ci,
    correlate,
    finite_pairs,
    kendall,
    kendall_top_k,
    ndcg,
    pearson,
    spearman,
    top_k_precision,
    top_k_size,
)
from trainfree.evaluate.tables import BenchmarkTable, load_benchmark

__all__ = [
    "CORRELATE_METRICS",
    "BenchmarkTable",
    "bootstrap_ci",
    "correlate",
    "finite_pairs",
    "kendall",
    "kendall_top_k",
    "load_benchmark",
    "ndcg",
    "pearson",
    "spearman",
    "top_k_precision",
    "top_k_size",
]
