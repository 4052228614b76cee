"""NEAR layer sizing and activation/init choice (``sizing.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainfree.data.tabular import load_tabular
from trainfree.errors import TrainfreeError
from trainfree.sizing import (
    estimate_layer_size,
    fit_relative_scores,
    power_curve,
    rank_activation_init,
    solve_width,
)


@pytest.fixture(scope="module")
def wine():
    return load_tabular("wine", seed=0)


A, B, C = 0.08, 0.92, -0.7  # a + b = 1 so the prepended (1, 1) lies on the curve


WIDTHS_FIT = [10 * 2**i for i in range(8)]


def test_fit_recovers_a_known_power_law():
    scores = power_curve(np.array(WIDTHS_FIT, dtype=float), A, B, C)
    t = 0.01
    published = fit_relative_scores(WIDTHS_FIT, scores, threshold=t)
    assert (published.a, published.b, published.c) == pytest.approx((A, B, C), abs=1e-4)
    assert published.raw_width == pytest.approx(t ** (1 / (C - 1)), rel=1e-3)
    exact = fit_relative_scores(WIDTHS_FIT, scores, threshold=t, formula="exact")
    assert exact.raw_width == pytest.approx((t / abs(B * C)) ** (1 / (C - 1)), rel=1e-3)
    n, h = exact.raw_width, 1e-3  # the exact width is where the slope's magnitude equals t
    slope = (power_curve(n + h, A, B, C) - power_curve(n - h, A, B, C)) / (2 * h)
    assert -slope == pytest.approx(t, rel=1e-3)
    assert exact.width == round(exact.raw_width)


def test_fit_refuses_curves_that_do_not_flatten():
    rising = power_curve(np.array(WIDTHS_FIT, dtype=float), 0.5, 0.5, 0.3)
    with pytest.raises(TrainfreeError, match="does not flatten"):
        fit_relative_scores(WIDTHS_FIT, rising)
    with pytest.raises(TrainfreeError, match="threshold"):
        fit_relative_scores(WIDTHS_FIT, rising, threshold=0)
    with pytest.raises(TrainfreeError, match="formula"):
        solve_width(A, B, C, 0.01, "approximate")
    with pytest.raises(TrainfreeError, match="at least 3"):
        fit_relative_scores([10, 20], [0.5, 0.3])


def test_estimate_layer_size_on_real_data(wine):
    est = estimate_layer_size(
        wine, hidden=(8, 8), layer=1, widths=(2, 4, 8, 16), repeats=1, activation="tanh"
    )
    assert est.arch == "mlp:8-8|tanh|default" and est.layer == 1 and est.width >= 1
    scores = np.array(est.relative_scores)
    assert np.all(scores > 0) and np.all(scores <= 1 + 1e-6)  # erank(n columns) <= n
    assert scores[-1] < scores[0]
    assert json.loads(json.dumps(est.as_json()))["width"] == est.width
    with pytest.raises(TrainfreeError, match="layer must lie"):
        estimate_layer_size(wine, hidden=(8,), layer=1, widths=(2, 4, 8))


def test_rank_activation_init_sorted_best_first(wine):
    ranking = rank_activation_init(
        wine, hidden=(8,), activations=("relu", "tanhshrink"), inits=("default", "orthogonal"),
        repeats=2,
    )  # fmt: skip
    assert {(r.activation, r.init) for r in ranking} == {
        (a, i) for a in ("relu", "tanhshrink") for i in ("default", "orthogonal")
    }
    means = [r.near_mean for r in ranking]
    assert means == sorted(means, reverse=True) and all(r.near_std >= 0 for r in ranking)
