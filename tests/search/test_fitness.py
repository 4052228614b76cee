"""Proxy fitness (``search/fitness.py``): one proxy or a rank ensemble, cached scores."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from search_archs import conv3x3_count, nb201_ops

from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES, get_proxy
from trainfree.proxies.ensemble import rank_aggregate
from trainfree.run.scoring import ScoreConfig
from trainfree.search import Fitness
from trainfree.search import fitness as fitness_module


def fake_value(arch: str, proxy: str) -> float:
    return conv3x3_count(arch) + len(proxy) * nb201_ops(arch).count("skip_connect")


@pytest.fixture
def fake_scores(monkeypatch):
    """Replace proxy scoring by a deterministic table of values; count the calls."""
    calls: list[tuple[str, str]] = []

    def fake(space, arch, proxies, config):
        calls.extend((arch, proxy) for proxy in proxies)
        return {proxy: SimpleNamespace(value=fake_value(arch, proxy)) for proxy in proxies}

    monkeypatch.setattr(fitness_module, "score_proxies", fake)
    return calls


def test_single_proxy_fitness_sign_and_cache(nb201, fake_scores):
    lower = next(p for p in PROXIES if not get_proxy(p).higher_is_better)
    higher = next(p for p in PROXIES if get_proxy(p).higher_is_better)
    arch = nb201.sample(1, seed=0)[0]
    f_low, f_high = Fitness(nb201, lower, ScoreConfig()), Fitness(nb201, higher, ScoreConfig())
    assert f_low(arch) == -fake_value(arch, lower) and f_high(arch) == fake_value(arch, higher)
    assert f_high(arch) == fake_value(arch, higher)
    assert f_high.evaluations == 1 and fake_scores.count((arch, higher)) == 1


def test_ensemble_fitness_is_relative_to_history(nb201, fake_scores):
    names = sorted(PROXIES, key=len)[:2]
    fit = Fitness(nb201, names, ScoreConfig(), method="rank_sum")
    archs = nb201.sample(6, seed=2)
    first = fit(archs[0])
    for arch in archs[1:]:
        fit(arch)
    table = {p: [fit.components(a)[p] for a in archs] for p in names}
    hib = {p: get_proxy(p).higher_is_better for p in names}
    expected = rank_aggregate(table, hib, "rank_sum")
    assert np.allclose(fit.values(archs), expected)
    assert first == 2.0  # alone in the history: dense rank 1 for each of the two proxies
    assert fit.evaluations == 6 and len(fake_scores) == 12


def test_a_proxy_failure_is_one_trainfree_error(nb201, monkeypatch):
    def broken(space, arch, proxies, config):
        raise ValueError("Expected more than 1 value per channel when training")

    monkeypatch.setattr(fitness_module, "score_proxies", broken)
    arch = nb201.sample(1, seed=0)[0]
    with pytest.raises(TrainfreeError, match=r"params failed on .*ValueError: Expected more"):
        Fitness(nb201, "params", ScoreConfig())(arch)
