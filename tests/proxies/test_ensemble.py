"""Rank ensembles (``proxies/ensemble.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES
from trainfree.proxies.ensemble import (
    NAMED_ENSEMBLES,
    Ensemble,
    parse_ensemble,
    rank_aggregate,
)

HIB = {"a": True, "b": False}


TABLE = {"a": [1.0, 2.0, 2.0, 3.0], "b": [4.0, 3.0, 2.0, 1.0]}


def test_mean_rank_with_ties_and_lower_is_better() -> None:
    # a: average ranks 1, 2.5, 2.5, 4; b (lower better): 1, 2, 3, 4
    np.testing.assert_allclose(rank_aggregate(TABLE, HIB), [1.0, 2.25, 2.75, 4.0])


def test_rank_sum_uses_dense_ranks() -> None:
    # a dense: 1, 2, 2, 3; b: 1, 2, 3, 4
    np.testing.assert_allclose(rank_aggregate(TABLE, HIB, "rank_sum"), [2, 4, 5, 7])


def test_azlog_values_and_flip_invariance() -> None:
    expected = np.log(np.array([1, 2.5, 2.5, 4]) / 4) + np.log(np.array([1, 2, 3, 4]) / 4)
    np.testing.assert_allclose(rank_aggregate(TABLE, HIB, "azlog"), expected)
    flipped = {"a": [-v for v in TABLE["a"]], "b": [-v for v in TABLE["b"]]}
    for method in ("mean_rank", "azlog", "rank_sum"):
        np.testing.assert_allclose(
            rank_aggregate(flipped, {"a": False, "b": True}, method),
            rank_aggregate(TABLE, HIB, method),
        )


def test_azlog_prefers_balanced_ranks() -> None:
    # X is best on p and worst on q; Z is second and third: equal mean ranks, azlog picks Z
    scores = {"p": [4, 3, 2, 1], "q": [1, 4, 3, 2]}  # archs X, Y, Z, W
    hib = {"p": True, "q": True}
    mean = rank_aggregate(scores, hib)
    az = rank_aggregate(scores, hib, "azlog")
    assert mean[0] == mean[2]
    assert az[2] > az[0]


@pytest.mark.parametrize(
    ("scores", "hib", "method"),
    [
        ({"a": [1, 2], "b": [1, 2, 3]}, HIB, "mean_rank"),
        ({"a": [1, float("nan")], "b": [1, 2]}, HIB, "mean_rank"),
        ({"a": [1, 2]}, {}, "mean_rank"),
        (TABLE, HIB, "median"),
        ({}, HIB, "mean_rank"),
    ],
)
def test_rank_aggregate_rejects_bad_input(scores, hib, method) -> None:
    with pytest.raises(TrainfreeError):
        rank_aggregate(scores, hib, method)


def test_parse_ensemble_syntax() -> None:
    assert parse_ensemble("grasp") is None
    ens = parse_ensemble("ensemble:grasp+fisher+zen")
    assert ens == Ensemble("ensemble:grasp+fisher+zen", ("grasp", "fisher", "zen"))
    assert ens.method == "mean_rank" and ens.higher_is_better
    assert parse_ensemble("Ensemble[azlog]:zico+swap").method == "azlog"
    for bad in (
        "ensemble:grasp+no_such_proxy",
        "ensemble[median]:grasp+zen",
        "ensemble:grasp",
        "ensemble:grasp+grasp",
        "ensemble:grasp++zen",
        "ensemble[azlog]grasp+zen",
    ):
        with pytest.raises(TrainfreeError):
            parse_ensemble(bad)


def test_ensemble_aggregate_uses_registered_signs() -> None:
    ens = parse_ensemble("ensemble[rank_sum]:grasp+zen")
    result = ens.aggregate({"grasp": [3.0, 1.0, 2.0], "zen": [1.0, 2.0, 3.0], "other": [0, 0, 0]})
    np.testing.assert_allclose(result, [4, 3, 5])
    with pytest.raises(TrainfreeError):
        ens.aggregate({"grasp": [1.0]})


def test_tenas_alias() -> None:
    alias = NAMED_ENSEMBLES["tenas"]
    assert alias.components == ("tenas_ntk", "tenas_lr") and alias.method == "rank_sum"
    if {"tenas_ntk", "tenas_lr"} <= set(PROXIES) and "tenas" not in PROXIES:
        assert parse_ensemble("tenas") == alias
        assert parse_ensemble("ensemble[azlog]:tenas").method == "azlog"
    else:
        pytest.skip("TE-NAS proxies not registered yet")
