"""Axis planning and scatter plots: log/symlog axes, values drawn apart, never dropped."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from matplotlib.image import imread

from trainfree.report.plots import Png, plan_axis, scatter


def pixels(image: Png) -> np.ndarray:
    """The decoded PNG of an embedded image; fails on a blank or tiny canvas."""
    prefix = "data:image/png;base64,"
    assert image.uri.startswith(prefix)
    array = imread(io.BytesIO(base64.b64decode(image.uri[len(prefix) :])), format="png")
    assert array.ndim == 3 and min(array.shape[:2]) > 100 and array.std() > 0
    return array


def test_positive_values_spanning_decades_get_a_log_axis():
    plan = plan_axis(10 ** np.linspace(2, 10, 30))
    assert plan.scale == "log"
    assert not plan.below(np.array([1e2, 1e10])).any()
    assert plan.below(np.array([0.0, -1.0])).all()  # no place on a log axis


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_a_floor_value_is_drawn_apart_and_the_rest_stays_linear(scale):
    rest = np.random.default_rng(0).normal(60.0 * scale, 25.0, size=95)  # both signs at 0.01
    values = np.append(rest, -1490.0)  # synflow's all-none cell
    plan = plan_axis(values)
    assert plan.scale == "linear"
    assert plan.below(values).sum() == 1 and plan.below(np.array([-1490.0])).all()
    assert not plan.above(values).any()


def test_a_skewed_bulk_stays_whole_around_a_floor():
    # accuracies of a search's queries: most near the top, a tail down to 79, one at 10
    rng = np.random.default_rng(0)
    values = np.append(94.0 - rng.exponential(1.5, 95).clip(max=15.0), 10.0)
    plan = plan_axis(values)
    assert plan.scale == "linear" and list(values[plan.below(values)]) == [10.0]


def test_heavy_tails_of_both_signs_get_a_symlog_axis():
    rng = np.random.default_rng(0)
    values = rng.choice([-1.0, 1.0], 400) * 10 ** rng.uniform(-1, 5, 400)
    plan = plan_axis(values)
    assert plan.scale == "symlog" and plan.linthresh > 0
    assert not (plan.below(values) | plan.above(values)).any()


def test_narrow_or_constant_values_need_no_special_axis():
    assert plan_axis(np.array([1.0, 2.0, np.nan])).scale == "linear"
    constant = plan_axis(np.array([5.0] * 10 + [6.0]))
    assert not constant.above(np.array([6.0])).any()  # no spread: nothing is "far"
    assert plan_axis(np.linspace(1.0, 500.0, 50)).scale == "linear"


def test_scatter_counts_what_it_draws_apart():
    x = np.append(np.linspace(20.0, 115.0, 40), [-1490.0, -1490.0, 60.0, np.nan])
    y = np.append(np.linspace(80.0, 94.0, 40), [10.0, 10.0, 10.0, 50.0])
    result = scatter("synflow", x, y, "acc")
    assert result.shown == 43 and result.set_apart == 3  # the NaN pair is not drawn
    assert list(result.apart) == ["left", "bottom"]
    assert list(result.apart["left"]) == [-1490.0, -1490.0]
    assert list(result.apart["bottom"]) == [10.0, 10.0, 10.0]  # two in the corner
    pixels(result.image)
