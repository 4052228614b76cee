"""The report's statistics: rank correlation with a target, and between proxies.

Scores come in oriented (:attr:`~trainfree.report.reading.StoreView.oriented`), so a positive
rho always means "ranks architectures like the target" (or "like the other proxy").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainfree.errors import TrainfreeError
from trainfree.evaluate import bootstrap_ci, finite_pairs, spearman


def correlations(oriented: pd.DataFrame, truth: pd.Series, n_boot: int, seed: int) -> pd.DataFrame:
    """Per column: Spearman's rho with the target, its percentile-bootstrap 95% interval
    (``n_boot`` resamples of architectures, seeded by ``seed``) and the pair count ``n``;
    best first. Columns with fewer than 3 architectures that have both values are left out."""
    records = []
    y = truth.reindex(oriented.index).to_numpy()
    for label in oriented.columns:
        x = oriented[label].to_numpy()
        try:
            n = len(finite_pairs(x, y)[0])
            rho = spearman(x, y)
            low, high = bootstrap_ci(spearman, x, y, n_boot=n_boot, seed=seed)
        except TrainfreeError:  # fewer than 3 architectures with both values
            continue
        records.append({"label": label, "n": n, "spearman": rho, "low": low, "high": high})
    columns = ["label", "n", "spearman", "low", "high"]
    table = pd.DataFrame(records, columns=columns)
    return table.sort_values("spearman", ascending=False, ignore_index=True)


def agreement(oriented: pd.DataFrame) -> np.ndarray:
    """Spearman's rho between every two columns over the architectures both scored (NaN where
    fewer than 3 did)."""
    n = len(oriented.columns)
    matrix = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i, n):
            try:
                value = spearman(oriented.iloc[:, i], oriented.iloc[:, j])
            except TrainfreeError:
                continue
            matrix[i, j] = matrix[j, i] = value
    return matrix
