"""Correlation metrics (``evaluate/correlation.py``)."""

from __future__ import annotations

import itertools
from functools import partial

import numpy as np
import pytest
from scipy import stats

from trainfree.errors import TrainfreeError
from trainfree.evaluate import (
    bootstrap_ci,
    correlate,
    kendall,
    kendall_top_k,
    pearson,
    spearman,
    top_k_precision,
    top_k_size,
)


def _noisy(n: int, seed: int = 0, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, x + noise * rng.normal(size=n)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(spearman, stats.spearmanr), (kendall, stats.kendalltau), (pearson, stats.pearsonr)],
)
def test_correlations_match_scipy(ours, theirs) -> None:
    for seed in range(3):
        x, y = _noisy(60, seed)
        assert ours(x, y) == pytest.approx(theirs(x, y).statistic, abs=1e-12)
        assert ours(x, -y) == pytest.approx(-ours(x, y), abs=1e-12)


def test_kendall_is_tau_b_with_ties() -> None:
    # 4 concordant pairs, 0 discordant, one pair tied in x, one tied in y:
    # tau-b = 4 / sqrt((6 - 1) * (6 - 1)) = 0.8, whereas tau-a would be 4 / 6.
    assert kendall([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)


def test_constant_input_gives_zero_not_nan() -> None:
    x = [1.0, 2.0, 3.0, 4.0]
    for metric in (spearman, kendall, pearson):
        assert metric([5.0] * 4, x) == 0.0
        assert metric(x, [5.0] * 4) == 0.0


def test_top_k_size_rounds_half_up() -> None:
    assert top_k_size(725, 0.1) == 73
    assert top_k_size(15, 0.1) == 2
    assert top_k_size(5, 0.1) == 1
    with pytest.raises(TrainfreeError, match="frac"):
        top_k_size(10, 0.0)


def test_top_k_precision_known_answers() -> None:
    t = np.arange(20.0)
    assert top_k_precision(t, t, 0.1) == 1.0
    assert top_k_precision(-t, t, 0.1) == 0.0
    assert top_k_precision(-t, t, 0.5) == 0.0
    # k = 3: the proxy's top three are items 9, 8, 7; the target's are 9, 8, 6.
    scores = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9.0])
    targets = np.array([0, 1, 2, 3, 4, 5, 7, 6, 8, 9.0])
    assert top_k_precision(scores, targets, 0.3) == pytest.approx(2 / 3)


def test_top_k_precision_ties_are_expected_over_tie_breaking() -> None:
    scores = np.array([3, 3, 3, 1, 1, 0.0])
    targets = np.array([6, 1, 5, 4, 3, 2.0])  # k = 2: the target's top two are items 0 and 2
    k = 2
    overlaps = []
    for key in itertools.permutations(range(6)):  # every tie-breaking of the proxy's ranking
        top = sorted(range(6), key=lambda i: (-scores[i], key[i]))[:k]
        overlaps.append(len({*top} & {0, 2}) / k)
    exact = top_k_precision(scores, targets, k / 6)
    assert exact == pytest.approx(np.mean(overlaps))  # = 2/3 of the time each of 0, 2 is in
    perm = np.random.default_rng(0).permutation(6)
    assert top_k_precision(scores[perm], targets[perm], k / 6) == pytest.approx(exact)
    # A constant proxy scores like a random ranking: k / n.
    assert top_k_precision(np.ones(10), np.arange(10.0), 0.2) == pytest.approx(0.2)


def test_kendall_top_k_follows_naslib_and_the_alternative() -> None:
    rng = np.random.default_rng(1)
    scores, targets = _noisy(100, 1, noise=0.5)
    top_by_scores = np.argsort(scores)[-10:]
    top_by_targets = np.argsort(targets)[-10:]
    assert set(top_by_scores) != set(top_by_targets)
    got = kendall_top_k(scores, targets, 0.1)
    want = stats.kendalltau(scores[top_by_scores], targets[top_by_scores]).statistic
    assert got == pytest.approx(want)
    got_t = kendall_top_k(scores, targets, 0.1, by="targets")
    want_t = stats.kendalltau(scores[top_by_targets], targets[top_by_targets]).statistic
    assert got_t == pytest.approx(want_t)
    same_order = np.arange(50.0) + rng.random(50) * 0.1
    assert kendall_top_k(np.arange(50.0), same_order) == pytest.approx(1.0)
    with pytest.raises(TrainfreeError, match="fewer than 3"):
        kendall_top_k(scores, targets, 0.01)
    with pytest.raises(TrainfreeError, match="by must be"):
        kendall_top_k(scores, targets, by="both")  # type: ignore[arg-type]


def test_bootstrap_ci_contains_estimate_and_narrows_with_n() -> None:
    widths = []
    for n in (40, 640):
        x, y = _noisy(n, 2)
        low, high = bootstrap_ci(spearman, x, y, n_boot=300, seed=0)
        assert low <= spearman(x, y) <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # width shrinks roughly like 1 / sqrt(n)
    x, y = _noisy(40, 2)
    assert bootstrap_ci(kendall, x, y, 200, seed=5) == bootstrap_ci(kendall, x, y, 200, seed=5)
    assert bootstrap_ci(kendall, x, y, 200, seed=5) != bootstrap_ci(kendall, x, y, 200, seed=6)
    low, high = bootstrap_ci(partial(top_k_precision, frac=0.25), x, y, 200)
    assert 0.0 <= low <= high <= 1.0
    with pytest.raises(TrainfreeError, match="n_boot"):
        bootstrap_ci(spearman, x, y, n_boot=0)
    with pytest.raises(TrainfreeError, match="level"):
        bootstrap_ci(spearman, x, y, level=1.0)


def test_nonfinite_pairs_are_dropped_and_counted() -> None:
    x, y = _noisy(30, 3)
    xs, ys = x.copy(), y.copy()
    xs[[0, 5]] = np.nan
    ys[7] = np.nan
    xs[9] = -np.inf
    keep = np.ones(30, bool)
    keep[[0, 5, 7, 9]] = False
    result = correlate(xs, ys)
    assert result["n"] == 26
    assert result["spearman"] == pytest.approx(spearman(x[keep], y[keep]))
    assert result["kendall"] == pytest.approx(kendall(x[keep], y[keep]))
    assert result["pearson"] == pytest.approx(pearson(x[keep], y[keep]))
    assert correlate([1, None, 3, 4], [1, 2, 3, 4])["n"] == 3


def test_correlate_direction_and_intervals() -> None:
    x, y = _noisy(80, 4)
    up = correlate(x, y)
    down = correlate(-x, y, higher_is_better=False)
    for key in ("spearman", "kendall", "pearson", "top10pct_precision", "n"):
        assert down[key] == pytest.approx(up[key])
    assert up["top10pct_precision"] == top_k_precision(x, y, 0.1)
    assert not any(key.endswith("_ci") for key in up)
    with_ci = correlate(x, y, n_boot=100, seed=1)
    for key in ("spearman", "kendall", "pearson", "top10pct_precision"):
        low, high = with_ci[f"{key}_ci"]
        assert low <= with_ci[key] <= high


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1, 2, 3], [1, 2], "differ in length"),
        ([1, 2, np.nan, 4], [1, 2, 3, np.nan], "at least 3"),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], "one-dimensional"),
        (["a", "b", "c"], [1, 2, 3], "must be numbers"),
        ([], [], "at least 3"),
    ],
)
def test_bad_input_raises(x, y, message) -> None:
    for metric in (spearman, kendall, pearson, top_k_precision, correlate):
        with pytest.raises(TrainfreeError, match=message):
            metric(x, y)
