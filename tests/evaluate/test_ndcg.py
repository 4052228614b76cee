"""VKDNW's nDCG (``evaluate/correlation.py``): hand-computed cases, ties, and ``correlate``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainfree.evaluate.correlation import correlate, ndcg

TARGETS = np.array([2.0, 1.0, 0.0])  # gains 2^t - 1 = 3, 1, 0


def test_ndcg_hand_cases() -> None:
    ideal = 3 + 1 / math.log2(3)
    assert ndcg(TARGETS, TARGETS, frac=1.0) == pytest.approx(1.0)
    reversed_dcg = 0 + 1 / math.log2(3) + 3 / math.log2(4)
    assert ndcg(-TARGETS, TARGETS, frac=1.0) == pytest.approx(reversed_dcg / ideal)
    # top 1 of 3 (frac 1/3): only the first position counts
    assert ndcg(np.array([0.0, 1.0, 2.0]), TARGETS, frac=1 / 3) == pytest.approx(0.0)
    assert ndcg(np.array([0.0, 2.0, 1.0]), TARGETS, frac=1 / 3) == pytest.approx(1 / 3)


def test_ties_get_the_expected_gain() -> None:
    ideal = 3 + 1 / math.log2(3)
    constant = (4 / 3) * (1 + 1 / math.log2(3) + 1 / 2) / ideal  # the mean gain everywhere
    assert ndcg(np.ones(3), TARGETS, frac=1.0) == pytest.approx(constant)
    # the best two tied at the top: both positions get (3 + 1) / 2
    tied = (2 + 2 / math.log2(3)) / ideal
    assert ndcg(np.array([5.0, 5.0, 0.0]), TARGETS, frac=1.0) == pytest.approx(tied)
    assert ndcg(TARGETS, np.full(3, 4.0), frac=1.0) == pytest.approx(1.0)


def test_percent_accuracies_weigh_the_top() -> None:
    """A point of accuracy halves the gain: swapping the two best costs more than the rest."""
    acc = np.array([94.0, 93.0, 80.0, 70.0])
    swap_top = ndcg(np.array([3.0, 4.0, 2.0, 1.0]), acc, frac=1.0)
    swap_bottom = ndcg(np.array([4.0, 3.0, 1.0, 2.0]), acc, frac=1.0)
    assert swap_top < 0.95 < swap_bottom


def test_correlate_reports_ndcg_with_an_interval() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(80, 94, 60)
    result = correlate(y + rng.normal(0, 2, 60), y, n_boot=50)
    low, high = result["ndcg_ci"]
    assert 0.0 <= low <= result["ndcg"] <= high <= 1.0
    flipped = correlate(-y, y, higher_is_better=False)
    assert flipped["ndcg"] == pytest.approx(1.0)


def test_negative_targets_are_measured_from_their_minimum() -> None:
    scores = np.array([3.0, 1.0, 2.0])
    targets = np.array([-1.0, 0.5, -3.0])
    assert ndcg(scores, targets, frac=1.0) == pytest.approx(ndcg(scores, targets + 3, frac=1.0))
    assert 0.0 < ndcg(scores, targets, frac=1.0) < 1.0
