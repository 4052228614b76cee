"""Searches under MACs/FLOPs/params limits (``search/constraints.py``)."""

from __future__ import annotations

import random

import pytest
from search_archs import conv3x3_count, nb201_ops

from trainfree.errors import TrainfreeError
from trainfree.search import run_search
from trainfree.search.constraints import Limits, parse_count
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
