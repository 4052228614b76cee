"""Black-box searches (``search/evolution.py``): random search and regularised evolution."""

from __future__ import annotations

import pytest
from search_archs import conv3x3_count, nb201_ops

from trainfree.errors import TrainfreeError
from trainfree.search import SEARCHES, get_search, run_search
from trainfree.spaces.darts import parse_genotype


def test_registry_names():
    assert SEARCHES.names() == ["freedarts", "random", "rea", "tenas"]
    with pytest.raises(TrainfreeError, match="unknown search"):
        get_search("bananas")


def test_rea_finds_known_optimum_and_respects_budget(nb201):
    result = run_search(
        "rea",
        nb201,
        fitness=conv3x3_count,
        evaluations=200,
        population_size=10,
        sample_size=5,
        seed=0,
    )
    assert result.algo == "rea" and result.evaluations == len(result.history) == 200
    initial_best = max(v for _, v in result.history[:10])
    assert result.fitness == 6.0 > initial_best  # all six edges nor_conv_3x3
    assert nb201_ops(result.arch) == ["nor_conv_3x3"] * 6
    again = run_search(
        "rea",
        nb201,
        fitness=conv3x3_count,
        evaluations=200,
        population_size=10,
        sample_size=5,
        seed=0,
    )
    assert again.history == result.history
    other = run_search(
        "rea",
        nb201,
        fitness=conv3x3_count,
        evaluations=200,
        population_size=10,
        sample_size=5,
        seed=1,
    )
    assert other.history != result.history


def test_random_search_distinct_budgeted_seeded(darts):
    def fitness(arch: str) -> float:
        g = parse_genotype(arch)
        return float(sum(op == "sep_conv_3x3" for op, _ in g.normal + g.reduce))

    result = run_search("random", darts, fitness=fitness, evaluations=25, seed=3)
    archs = [a for a, _ in result.history]
    assert len(archs) == len(set(archs)) == result.evaluations == 25
    assert result.fitness == max(v for _, v in result.history) == fitness(result.arch)
    again = run_search("random", darts, fitness=fitness, evaluations=25, seed=3)
    assert (again.arch, again.history) == (result.arch, result.history)
    timed = run_search("random", darts, fitness=fitness, evaluations=None, seconds=0.2, seed=3)
    assert timed.evaluations >= 1 and timed.history[0] == result.history[0]


def test_budget_and_option_errors(nb201):
    with pytest.raises(TrainfreeError, match="budget"):
        run_search("rea", nb201, fitness=conv3x3_count, evaluations=None)
    with pytest.raises(TrainfreeError, match="unexpected keyword"):
        run_search("random", nb201, fitness=conv3x3_count, generations=3)
    with pytest.raises(TrainfreeError, match="proxy"):
        run_search("random", nb201, evaluations=3)
