"""Replaying a search run: the pick after every query is what the search returns at that budget."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from report.stored import QUERIES, RUN

from trainfree.report.reading import Event, RunLog, read_runs
from trainfree.report.trajectory import RECORDED, replay
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.search import Fitness, run_search
from trainfree.spaces import get_space

OBJECTIVE = "ensemble[azlog]:params+test_lower"


class _Made(Fitness):
    """Made-up component scores (a fixed function of the architecture): no network is built."""

    def _evaluate(self, arch: str) -> dict[str, float]:
        rng = np.random.default_rng(zlib.crc32(arch.encode()))
        return {"params": float(rng.lognormal(10, 2)), "test_lower": float(rng.normal())}


def _search(evaluations: int, objective: str = OBJECTIVE):
    fitness = _Made(get_space("nb201"), objective, ScoreConfig(dataset="synthetic"))
    result = run_search(
        "rea",
        "nb201",
        fitness=fitness,
        evaluations=evaluations,
        seed=0,
        population_size=10,
        sample_size=3,
    )
    return result, fitness


def _recorded(result, fitness, name: str) -> RunLog:
    """The run as ``trainfree search --store`` records it, read back from a store."""
    with ResultStore(":memory:") as store:
        events = [
            {"arch": a, "fitness": f, "scores": fitness.components(a)} for a, f in result.history
        ]
        store.add_events(name, "search", events)
        (log,) = read_runs(store)
    return log


@pytest.mark.parametrize("objective", [OBJECTIVE, "test_lower"])
def test_the_pick_after_k_queries_is_what_a_k_query_search_returns(objective):
    result, fitness = _search(60, objective)
    run = replay(_recorded(result, fitness, f"rea {objective} seed=0"))
    assert run.chosen_by == fitness.objective.name
    assert run.evaluations == 60 and run.distinct == len({a for a, _ in result.history})
    for k in (1, 7, 23, 60):  # the same seed replays the same first k queries
        assert run.steps["leader"].iloc[k - 1] == _search(k, objective)[0].arch
    changed = run.steps["leader"].ne(run.steps["leader"].shift())
    assert run.steps["changed"].equals(changed) and run.steps["changed"].iloc[0]
    assert run.steps.loc[~run.steps["new"], "changed"].sum() == 0  # a repeat changes nothing


def test_without_a_known_objective_the_recorded_fitness_ranks():
    result, fitness = _search(30, "test_lower")
    run = replay(_recorded(result, fitness, "a run named by hand"))
    assert run.chosen_by == RECORDED
    assert run.steps["leader"].iloc[-1] == result.arch  # exact for a single proxy


def test_percentiles_and_targets_of_the_pick():
    scores = {"a": (0.0, 0.0), "b": (1.0, -1.0), "c": (2.0, 1.0)}  # (params, test_lower)
    events = [
        Event(a, None, dict(zip(("params", "test_lower"), scores[a], strict=True))) for a in "abcab"
    ]
    run = replay(
        RunLog("x", events, "ensemble:params+test_lower"),
        pd.Series({"a": 70.0, "b": 90.0, "c": 80.0}),
    )
    # test_lower is lower-is-better: c has the most params and the worst test_lower
    assert run.archs.loc["c", "params %"] == pytest.approx(200 / 3)
    assert run.archs.loc["c", "test_lower %"] == 0.0
    assert run.archs["percentile"].round(1).to_dict() == {"a": 16.7, "b": 50.0, "c": 33.3}
    assert list(run.steps["leader"]) == ["a", "b", "b", "b", "b"]  # mean ranks at c: 1.5, 2.5, 2
    assert list(run.steps["leader_target"]) == [70.0, 90.0, 90.0, 90.0, 90.0]
    assert list(run.steps["best_target"]) == [70.0, 90.0, 90.0, 90.0, 90.0]
    assert run.leader_changes["step"].tolist() == [1, 2]


def test_a_stored_run_reads_back_with_its_objective(store):
    with ResultStore(store) as db:
        (log,) = read_runs(db)
    assert log.name == RUN and log.objective == "ensemble:params+test_lower"
    run = replay(log)
    assert run.evaluations == len(QUERIES) and run.distinct == len(set(QUERIES))
    assert ((run.steps["percentile"] >= 0) & (run.steps["percentile"] <= 100)).all()
