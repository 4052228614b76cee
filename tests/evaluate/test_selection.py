"""Honest ensemble selection (``evaluate/selection.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from trainfree.errors import TrainfreeError
from trainfree.evaluate.correlation import correlate
from trainfree.evaluate.selection import evaluate_on, select_ensemble, split
from trainfree.proxies.ensemble import rank_aggregate

N = 120


def _population() -> tuple[dict[str, np.ndarray], dict[str, bool], np.ndarray]:
    rng = np.random.default_rng(0)
    truth = rng.uniform(70, 94, N)
    scores = {
        "good": truth + rng.normal(0, 3, N),
        "other": truth + rng.normal(0, 3, N),
        "flipped": -(truth + rng.normal(0, 6, N)),  # lower is better
        "noise": rng.normal(0, 1, N),
    }
    signs = {"good": True, "other": True, "flipped": False, "noise": True}
    return scores, signs, truth


def test_split_is_disjoint_and_covers_everything() -> None:
    first, rest = split(10, 4)
    assert first.tolist() == [0, 1, 2, 3] and rest.tolist() == [4, 5, 6, 7, 8, 9]
    drawn, others = split(10, 4, seed=3)
    assert len(drawn) == 4 and not set(drawn) & set(others)
    assert sorted([*drawn, *others]) == list(range(10))
    with pytest.raises(TrainfreeError, match="each side"):
        split(10, 9)


def test_selection_is_reported_on_the_held_out_architectures_only() -> None:
    scores, signs, truth = _population()
    result = select_ensemble(scores, signs, truth, select_on=40, n_boot=20)
    assert "noise" not in result.members and "good" in result.members
    assert result.held_out["n"] == N - 40
    assert not set(result.selection_index) & set(result.held_out_index)
    held = result.held_out_index
    members = {m: scores[m][held] for m in result.members}
    expected = correlate(rank_aggregate(members, signs, "azlog"), truth[held])["kendall"]
    assert result.held_out["kendall"] == pytest.approx(expected)
    assert "kendall_ci" in result.held_out


def test_budget_and_greedy_search() -> None:
    scores, signs, truth = _population()
    costs = {"good": 5.0, "other": 0.5, "flipped": 0.4, "noise": 0.1}
    cheap = select_ensemble(scores, signs, truth, select_on=40, costs=costs, budget=1.0,
                            n_boot=0)  # fmt: skip
    assert "good" not in cheap.members and sum(costs[m] for m in cheap.members) <= 1.0
    greedy = select_ensemble(scores, signs, truth, select_on=40, max_subsets=1, n_boot=0)
    exhaustive = select_ensemble(scores, signs, truth, select_on=40, n_boot=0)
    assert greedy.selection_value <= exhaustive.selection_value
    assert "noise" not in greedy.members


def test_single_member_is_the_proxy_itself() -> None:
    scores, signs, truth = _population()
    index = np.arange(N)
    alone = evaluate_on(scores, signs, ("flipped",), truth, index)
    assert alone["kendall"] == pytest.approx(correlate(-scores["flipped"], truth)["kendall"])


def test_mistakes_are_reported() -> None:
    scores, signs, truth = _population()
    with pytest.raises(TrainfreeError, match="criterion"):
        select_ensemble(scores, signs, truth, select_on=40, criterion="accuracy")
    with pytest.raises(TrainfreeError, match="budget"):
        select_ensemble(scores, signs, truth, select_on=40, budget=1.0)
    bad = {**scores, "noise": np.full(N, np.nan)}
    with pytest.raises(TrainfreeError, match="finite"):
        select_ensemble(bad, signs, truth, select_on=40)
