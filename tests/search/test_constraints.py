"""Searches under MACs/FLOPs/params limits (``search/constraints.py``)."""

from __future__ import annotations

import random

import pytest
from search_archs import conv3x3_count, nb201_ops

from trainfree.errors import TrainfreeError
from trainfree.search import run_search
from trainfree.search.constraints import _TOKEN, Admissible, Limits, parse_count
from trainfree.search.evolution import _mutate
from trainfree.spaces import get_space


def test_parse_count() -> None:
    assert parse_count("400M") == 4e8 and parse_count("1.5G") == 1.5e9
    assert parse_count("25k") == 25e3 and parse_count("3e8") == 3e8 and parse_count(7) == 7.0
    for bad in ("", "12X", "-1M", "M", "nan"):
        with pytest.raises(TrainfreeError):
            parse_count(bad)
    with pytest.raises(TrainfreeError, match="above"):
        Limits.parse(min_params="2M", max_params="1M")


def test_limits_admit_by_every_bound(nb201) -> None:
    arch = nb201.sample(1, seed=0)[0]
    counts = nb201.complexity(arch)
    assert counts["flops"] == 2 * counts["macs"] > 0 and counts["params"] > 0
    assert Limits().admits(nb201, arch)
    assert Limits(max_macs=counts["macs"], min_params=counts["params"]).admits(nb201, arch)
    assert not Limits(max_macs=counts["macs"] - 1).admits(nb201, arch)
    assert not Limits(min_flops=counts["flops"] + 1).admits(nb201, arch)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch):
    """NB201 with a fast stand-in count (MACs grow with the convolutions), so that the search
    logic is tested on thousands of candidates in a moment."""
    space = get_space("nb201")

    def complexity(arch: str) -> dict[str, float]:
        ops = nb201_ops(arch)
        macs = 1e6 * (9 * ops.count("nor_conv_3x3") + ops.count("nor_conv_1x1") + 1)
        return {"macs": macs, "flops": 2 * macs, "params": macs / 100}

    monkeypatch.setattr(space, "complexity", complexity)
    return space


@pytest.mark.parametrize("algo", ["rea", "random"])
def test_budget_is_never_violated(counted, algo: str) -> None:
    """Property: over random budgets, every architecture the search queries is within them."""
    nb201 = counted
    macs = sorted(nb201.complexity(a)["macs"] for a in nb201.sample(200, seed=1))
    rng = random.Random(0)
    for trial in range(4):
        bound = macs[rng.randrange(20, 180)]
        limits = Limits(max_macs=bound) if trial % 2 else Limits(min_macs=bound)
        result = run_search(
            algo, nb201, fitness=conv3x3_count, evaluations=40, limits=limits,
            population_size=8, sample_size=4, seed=trial,
        ) if algo == "rea" else run_search(
            algo, nb201, fitness=conv3x3_count, evaluations=40, limits=limits, seed=trial
        )  # fmt: skip
        assert len(result.history) == 40
        assert all(limits.admits(nb201, arch) for arch, _ in result.history)


def test_a_budget_that_admits_nothing_fails_clearly(counted) -> None:
    with pytest.raises(TrainfreeError, match="loosen the limits"):
        run_search(
            "rea", counted, fitness=conv3x3_count, evaluations=5, limits=Limits(max_params=1)
        )


def test_tight_budget_mutates_within_it(counted) -> None:
    """Only cells without 3x3 convolutions pass: evolution keeps to them."""
    limits = Limits(max_macs=8e6)
    result = run_search("rea", counted, fitness=conv3x3_count, evaluations=60, limits=limits,
                        population_size=5, sample_size=3, seed=0)  # fmt: skip
    assert all("nor_conv_3x3" not in arch for arch, _ in result.history)


def _levenshtein(a: list[str], b: list[str]) -> int:
    """Textbook dynamic programme, the reference for the vectorised one."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def test_admissible_distances_and_nearest() -> None:
    mnasnet = get_space("mnasnet")
    archs = mnasnet.sample(40, seed=3)
    admissible = Admissible(mnasnet, [*archs, archs[0]])  # a duplicate is dropped
    assert admissible.archs == archs and archs[5] in admissible
    query = mnasnet.sample(1, seed=9)[0]
    tokens = _TOKEN.findall
    expected = [_levenshtein(tokens(query), tokens(a)) for a in archs]
    assert admissible.distances(query).tolist() == expected
    parent = archs[0]
    neighbour = mnasnet.neighbours(parent)[7]  # one choice changed: distance 1
    assert Admissible(mnasnet, [parent, neighbour]).distances(parent).tolist() == [0, 1]
    rng = random.Random(0)
    assert admissible.nearest(parent, rng) == parent
    others = admissible.nearest(parent, rng, exclude=[parent, archs[1]])
    assert others not in (parent, archs[1])
    assert Admissible(mnasnet, [parent]).nearest(neighbour, rng, exclude=[parent]) == parent


def test_an_empty_admissible_set_fails_in_one_line(counted) -> None:
    with pytest.raises(TrainfreeError, match="none of the 0 given"):
        run_search("random", counted, fitness=conv3x3_count, evaluations=5, within=[])
    table = counted.sample(20, seed=0)
    with pytest.raises(TrainfreeError, match=r"none of the 20 given.*loosen the limits"):
        run_search("rea", counted, fitness=conv3x3_count, evaluations=5, within=table,
                   limits=Limits(max_params=1))  # fmt: skip


@pytest.mark.parametrize("algo", ["rea", "random"])
def test_search_within_a_table_keeps_to_it(counted, algo: str) -> None:
    """Property: over random sparse tables and budgets, every scored architecture is in the
    table and within the budget, and the same seed gives the same trajectory."""
    rng = random.Random(1)
    for trial in range(4):
        table = counted.sample(rng.randrange(30, 200), seed=trial)
        macs = sorted(counted.complexity(a)["macs"] for a in table)
        limits = Limits(max_macs=macs[rng.randrange(5, len(macs))])
        allowed = {a for a in table if limits.admits(counted, a)}
        options = {"population_size": 6, "sample_size": 3} if algo == "rea" else {}
        run = {"fitness": conv3x3_count, "evaluations": 30, "limits": limits, "within": table}
        runs = [run_search(algo, counted, seed=trial, **run, **options) for _ in range(2)]
        history = runs[0].history
        assert history == runs[1].history
        assert len(history) == (30 if algo == "rea" else min(30, len(allowed)))
        assert {arch for arch, _ in history} <= allowed and runs[0].arch in allowed


def test_mutation_in_a_table_is_a_local_move(counted) -> None:
    """A neighbour of the parent in the table is taken when there is one; otherwise a member
    nearest a mutant, never the parent or one already scored; the same rng gives the same."""
    parent = counted.sample(1, seed=4)[0]
    near = counted.neighbours(parent)[:2]
    far = [a for a in counted.sample(50, seed=5) if a not in near and a != parent]
    admissible = Admissible(counted, [parent, *near, *far])
    rng = random.Random(0)
    children = {_mutate(counted, parent, rng, Limits(), iter(()), admissible) for _ in range(20)}
    assert children == set(near)
    lonely = Admissible(counted, [parent, *far])
    children = [_mutate(counted, parent, random.Random(k), Limits(), iter(()), lonely, far[:40])
                for k in range(20)]  # fmt: skip
    assert set(children) <= set(far[40:])
    again = [_mutate(counted, parent, random.Random(k), Limits(), iter(()), lonely, far[:40])
             for k in range(20)]  # fmt: skip
    assert again == children
