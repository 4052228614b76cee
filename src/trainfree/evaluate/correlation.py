"""How well proxy scores rank architectures: the metrics of NAS-Bench-Suite-Zero (Krishnakumar et
al., NeurIPS 2022 Datasets & Benchmarks) and NASLib's ``naslib/utils/zerocost.py``.

Conventions shared by every function here:

* **Missing values.** A pair is used only when both values are finite; NaN (and ±inf, e.g.
  NASLib's ``nwot`` of ``-inf`` for a singular kernel) marks a missing value and the pair is
  dropped. :func:`correlate` reports how many pairs it used as ``n``.
* **Validation.** Inputs must be one-dimensional, of equal length and leave at least 3 finite
  pairs; anything else raises :class:`TrainfreeError`.
* **Constant input.** A correlation with a constant vector is undefined (scipy returns NaN).
  A constant proxy carries no ranking information, so every correlation here returns ``0.0``
  for it (and for a constant target) instead of NaN. Nothing here returns NaN.
* **Direction.** Both inputs are "higher is better"; :func:`correlate` flips the scores of a
  proxy whose ``higher_is_better`` is False.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

import numpy as np
from scipy import stats

from trainfree.errors import TrainfreeError

ArrayLike = Sequence[float] | np.ndarray
Metric = Callable[[ArrayLike, ArrayLike], float]
MIN_PAIRS = 3
NDCG_FRAC = 0.1


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TrainfreeError(f"{name} must be numbers ({exc})") from None
    if array.ndim != 1:
        raise TrainfreeError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def finite_pairs(scores: ArrayLike, targets: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate two aligned vectors and keep the pairs where both values are finite."""
    x, y = _vector(scores, "scores"), _vector(targets, "targets")
    if len(x) != len(y):
        raise TrainfreeError(f"scores and targets differ in length ({len(x)} vs {len(y)})")
    keep = np.isfinite(x) & np.isfinite(y)
    n = int(keep.sum())
    if n < MIN_PAIRS:
        raise TrainfreeError(f"need at least {MIN_PAIRS} pairs with finite values, got {n}")
    return x[keep], y[keep]


def _correlation(statistic: Callable, name: str, x: ArrayLike, y: ArrayLike) -> float:
    a, b = finite_pairs(x, y)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0  # a constant vector carries no ranking information (module docstring)
    value = float(statistic(a, b).statistic)
    if not math.isfinite(value):
        raise TrainfreeError(f"{name} correlation is undefined for these values")
    return value


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's ρ (ties get average ranks)."""
    return _correlation(stats.spearmanr, "spearman", x, y)


def kendall(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall's τ-b, which corrects for ties in either vector."""
    return _correlation(partial(stats.kendalltau, variant="b"), "kendall", x, y)


def pearson(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson's linear correlation (sensitive to scale: prefer rank metrics for proxies)."""
    return _correlation(stats.pearsonr, "pearson", x, y)


def top_k_size(n: int, frac: float) -> int:
    """``k = max(1, round(frac * n))``, rounded half up."""
    if not 0 < frac <= 1:
        raise TrainfreeError(f"frac must be in (0, 1], got {frac}")
    return max(1, math.floor(frac * n + 0.5))


def _top_k_membership(values: np.ndarray, k: int) -> np.ndarray:
    """Probability that each item is in the top ``k`` when ties at the cut are broken at random.

    Items above the k-th largest value are in (1), items below are out (0), and the ``m`` items
    tied with the k-th largest share the remaining ``r`` places (``r / m`` each).
    """
    cut = np.partition(values, len(values) - k)[len(values) - k]
    above, tied = values > cut, values == cut
    membership = above.astype(float)
    membership[tied] = (k - above.sum()) / tied.sum()
    return membership


def top_k_precision(scores: ArrayLike, targets: ArrayLike, frac: float = 0.1) -> float:
    """Fraction of the proxy's top ``frac`` that is also in the target's top ``frac``.

    ``k = max(1, round(frac * n))`` on the ``n`` finite pairs. Ties: where several items tie at
    the k-th place, the result is the *expected* precision over uniformly random tie-breaking
    (independently in both rankings), so it does not depend on the input order. Without ties it
    is the plain ``|top_k(scores) ∩ top_k(targets)| / k``; a constant proxy gets ``k / n``, the
    value of a random ranking.
    """
    a, b = finite_pairs(scores, targets)
    k = top_k_size(len(a), frac)
    return float(_top_k_membership(a, k) @ _top_k_membership(b, k) / k)


def kendall_top_k(
    scores: ArrayLike,
    targets: ArrayLike,
    frac: float = 0.1,
    *,
    by: Literal["scores", "targets"] = "scores",
) -> float:
    """Kendall's τ-b among the top ``frac`` of the architectures.

    NASLib's ``p_at_tb_k`` (``kd_at_topk``) takes the top k *by the proxy's score*, which is the
    default ``by="scores"``; ``by="targets"`` takes the truly best k instead (an open choice in
    the literature). Every item tied with the k-th value is included, so the set may exceed k.
    """
    a, b = finite_pairs(scores, targets)
    if by not in ("scores", "targets"):
        raise TrainfreeError(f"by must be 'scores' or 'targets', got {by!r}")
    ranked = a if by == "scores" else b
    k = top_k_size(len(a), frac)
    chosen = ranked >= np.partition(ranked, len(ranked) - k)[len(ranked) - k]
    if chosen.sum() < MIN_PAIRS:
        raise TrainfreeError(
            f"the top {frac:g} holds {int(chosen.sum())} architectures, fewer than {MIN_PAIRS}; "
            "use a larger frac or more architectures"
        )
    return kendall(a[chosen], b[chosen])


def ndcg(scores: ArrayLike, targets: ArrayLike, frac: float = NDCG_FRAC) -> float:
    """Normalised discounted cumulative gain of the proxy's top ``k`` (VKDNW's nDCG, Týbl &
    Neumann, CVPR 2025, Eq. 14)::

        nDCG = (1/Z) Σ_{j=1..k} (2^{acc_(j)} − 1) / log2(1 + j)

    ``acc_(j)``: target of the proxy's ``j``-th best architecture, in the target's own units
    (NB201 accuracies are percentages, as in VKDNW's table, so one point of accuracy halves an
    architecture's gain and the metric is dominated by the very best); ``Z``: the same sum in
    the target's own order. ``k = max(1, round(frac * n))`` on the ``n`` finite pairs (VKDNW
    cuts at a fixed count ``P``; a fraction keeps samples of different sizes comparable).
    Ties in the scores get the *expected* gain over random tie-breaking (each position of a
    tied block gets the block's mean gain), so a constant proxy scores as a random ranking
    does, and a constant target gives 1. Gains must not be negative: if a target is below 0
    (``correlate`` also compares a proxy with another proxy's scores), targets are measured from
    their minimum instead.
    """
    a, b = finite_pairs(scores, targets)
    if (b < 0).any():
        b = b - b.min()
    k = top_k_size(len(a), frac)
    top = b.max()
    gains = np.exp2(b - top) - np.exp2(-top)  # (2^b - 1) / 2^top: the scale cancels in the ratio
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(gains)[::-1][:k] @ discounts
    if ideal <= 0:
        return 1.0  # every target is 0: every ranking is ideal
    _, block, sizes = np.unique(-a, return_inverse=True, return_counts=True)
    mean_gain = np.bincount(block, weights=gains) / sizes
    return float(np.repeat(mean_gain, sizes)[:k] @ discounts / ideal)


def bootstrap_ci(
    metric: Metric,
    x: ArrayLike,
    y: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(x, y)``, resampling architecture pairs.

    ``metric`` is any function here (use ``functools.partial`` for ``frac``); pairs with a
    missing value are dropped before resampling. Seeded by ``seed`` alone.
    """
    if n_boot < 1:
        raise TrainfreeError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise TrainfreeError(f"level must be in (0, 1), got {level}")
    a, b = finite_pairs(x, y)
    rng = np.random.default_rng(seed)
    draws = [metric(a[i], b[i]) for i in (rng.integers(0, len(a), len(a)) for _ in range(n_boot))]
    tail = (1 - level) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


CORRELATE_METRICS: dict[str, Metric] = {
    "spearman": spearman,
    "kendall": kendall,
    "pearson": pearson,
    "top10pct_precision": partial(top_k_precision, frac=0.1),
    "ndcg": ndcg,
}


def correlate(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    higher_is_better: bool = True,
    n_boot: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float | int | tuple[float, float]]:
    """Every metric of :data:`CORRELATE_METRICS` on the finite pairs, plus ``n`` (pairs used).

    ``higher_is_better=False`` negates the scores first (e.g. TE-NAS's condition number). With
    ``n_boot > 0`` each metric also gets ``<name>_ci``, a ``(low, high)`` bootstrap interval.
    """
    a, b = finite_pairs(scores, targets)
    if not higher_is_better:
        a = -a
    result: dict[str, float | int | tuple[float, float]] = {
        name: metric(a, b) for name, metric in CORRELATE_METRICS.items()
    }
    result["n"] = len(a)
    if n_boot > 0:
        for name, metric in CORRELATE_METRICS.items():
            result[f"{name}_ci"] = bootstrap_ci(metric, a, b, n_boot, seed, level)
    return result
