"""``run/scoring.py``: the one path to a scored network, and proxies scored together giving the
values they give alone, computing common work once."""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import random
from collections.abc import Sequence
from functools import partial

import pytest
import torch
from torch import nn

from trainfree.data import make_batch
from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES, compute_proxy, get_proxy
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import sharing
from trainfree.run.runner import score_many
from trainfree.run.scoring import (
    ScoreConfig,
    build_network,
    group_by_preparation,
    prepare,
    score_arch,
    score_group,
    score_proxies,
)
from trainfree.spaces import SearchSpace, get_space, register_space
from trainfree.spaces.pooling import AvgPool2d

CONFIG = ScoreConfig(dataset="synthetic", batch_size=6, image_size=8, repeats=2)
FORWARDS: list[int] = []


class _CountingNet(nn.Sequential):
    """A small CNN with BatchNorm, ReLU and an excluding-padding average pool."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        FORWARDS.append(1)
        return super().forward(x)


@register_space
class CountingSpace(SearchSpace):
    """Test-only CNNs ``c<k>`` (``k + 2`` channels) that count their forward calls."""

    name = "test_counting"

    def canonical(self, arch: str) -> str:
        return arch

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        return [f"c{k}" for k in random.Random(seed).sample(range(4), n)]

    def mutate(self, arch: str, rng: random.Random) -> str:
        return arch

    def neighbours(self, arch: str) -> list[str]:
        return [arch]

    def build(self, arch: str, *, num_classes: int = 10, in_channels: int = 3, **kwargs):
        width = int(arch[1:]) + 2
        return _CountingNet(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width, num_classes),
        )


def _fails_on_odd_seeds(model: nn.Module, batch: Batch) -> float:
    if torch.initial_seed() % 2:  # the harness seeds repeat r with seed + r
        raise TrainfreeError("test failure on odd seeds")
    return float(len(batch.inputs))


register_proxy(
    "test_odd_seed_fails",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="test only",
)(_fails_on_odd_seeds)


def _outcome(result: object) -> object:
    return type(result) if isinstance(result, Exception) else result.values


def test_every_proxy_gives_the_same_value_in_a_group_as_alone():
    space = CountingSpace()
    names = [n for n in PROXIES.names() if not n.startswith("test_")]
    groups = group_by_preparation(names, CONFIG)
    assert sorted(n for g in groups for n in g) == sorted(names)
    assert any(len(group) >= 3 for group in groups), "expected proxies sharing a preparation"
    for group in groups:
        together = score_group(space, "c1", group, CONFIG)
        for name, result in zip(group, together, strict=True):
            try:
                alone: object = score_arch(space, "c1", name, CONFIG)
            except Exception as exc:
                alone = exc
            assert _outcome(result) == _outcome(alone), name


@pytest.mark.parametrize(
    "group",
    [("intrain", "intrain_pr", "intrain_grad"), ("snip", "plain", "grad_norm")],
)
def test_a_group_runs_its_shared_forward_once_per_repeat(group):
    space = CountingSpace()
    config = ScoreConfig(dataset="synthetic", batch_size=6, image_size=8, repeats=2)
    assert group_by_preparation(list(group), config) == [list(group)]
    FORWARDS.clear()
    score_group(space, "c0", list(group), config)
    together = len(FORWARDS)
    FORWARDS.clear()
    for name in group:
        score_arch(space, "c0", name, config)
    assert together == 2 and len(FORWARDS) == 2 * len(group)


def test_gradalign_pair_shares_its_per_sample_gradients():
    space = CountingSpace()
    FORWARDS.clear()
    score_group(space, "c0", ["gradalign", "gradalign_det"], CONFIG)
    assert len(FORWARDS) == CONFIG.repeats  # vmap calls forward once per batch


def test_a_failing_proxy_leaves_the_rest_of_its_group_scored():
    space = CountingSpace()
    config = ScoreConfig(dataset="synthetic", batch_size=6, image_size=8, repeats=2, seed=0)
    first, failing, last = score_group(
        space, "c0", ["snip", "test_odd_seed_fails", "grad_norm"], config
    )
    assert isinstance(failing, TrainfreeError)
    assert first.values == score_arch(space, "c0", "snip", config).values
    assert last.values == score_arch(space, "c0", "grad_norm", config).values


def test_score_group_refuses_proxies_of_different_preparations():
    with pytest.raises(TrainfreeError, match="one preparation"):
        score_group(CountingSpace(), "c0", ["snip", "tenas_ntk"], CONFIG)


def test_score_many_and_score_proxies_group_by_preparation():
    space = CountingSpace()
    names = ["intrain", "snip", "intrain_pr", "grad_norm", "params"]
    config = ScoreConfig(dataset="synthetic", batch_size=6, image_size=8)
    FORWARDS.clear()
    report = score_many("test_counting", ["c0", "c1"], names, config)
    assert not report.failures and len(report.results) == 2 * len(names)
    assert len(FORWARDS) == 2 * 2  # per arch: one for InTrain's pair, one for snip + grad_norm
    direct = score_proxies(space, "c1", names, config)
    for result in report.results:
        if result.arch == "c1":
            assert direct[result.proxy].values == result.values


def _requests(names: Sequence[str]) -> set[tuple]:
    """The shared computations (function and arguments) that ``names``, run one after the other
    on one network and batch, ask for."""
    model, batch = prepare(CountingSpace(), "c1", get_proxy(names[0]), CONFIG)
    with sharing() as cache:
        for name in names:
            with contextlib.suppress(Exception):  # a failure keeps what it computed before
                compute_proxy(get_proxy(name), model, batch)
        return {(key[0], *key[3:]) for key in cache}


def test_a_proxy_computes_the_same_thing_whoever_shares_its_group():
    """No proxy changes its computation because of its neighbours: a group asks for exactly the
    shared computations its proxies ask for alone; every pair that shares one gives each value
    identical alone and together, in either order."""
    space = CountingSpace()
    once = ScoreConfig(dataset="synthetic", batch_size=6, image_size=8, repeats=1)
    names = [n for n in PROXIES.names() if not n.startswith("test_")]
    alone = {name: _requests([name]) for name in names}

    @functools.cache
    def single(name: str) -> object:
        try:
            return _outcome(score_arch(space, "c1", name, once))
        except Exception as exc:
            return type(exc)

    pairs: list[tuple[str, str]] = []
    for group in group_by_preparation(names, CONFIG):
        assert _requests(group) == set().union(*(alone[n] for n in group)), group
        pairs += [(a, b) for a, b in itertools.combinations(group, 2) if alone[a] & alone[b]]
    expected = [
        {"intrain", "intrain_pr"},
        {"intrain", "intrain_grad"},
        {"gradalign", "gradalign_det"},
    ]
    assert all(pair in [set(p) for p in pairs] for pair in expected), pairs
    for a, b in pairs:
        for pair in ((a, b), (b, a)):
            assert _requests(pair) == alone[a] | alone[b], pair
            together = score_group(space, "c1", list(pair), once)
            for name, result in zip(pair, together, strict=True):
                assert _outcome(result) == single(name), (pair, name)


def test_build_network_seeds_builds_for_the_batch_and_initialises():
    """``init=None`` keeps what ``build`` drew (an MLP's own orthogonal init); a scheme replaces
    it; rows ``(B, F)`` build a network for ``F`` features."""
    batch = make_batch("wine", batch_size=4, seed=0)
    build = partial(get_space("mlp").build, "mlp:8|relu|orthogonal")
    kept, moved = build_network(build, batch, seed=3)
    again, _ = build_network(build, batch, seed=3)
    other, _ = build_network(build, batch, seed=3, init="default")
    assert torch.equal(moved.inputs, batch.inputs) and kept(batch.inputs).shape == (4, 3)
    assert all(
        torch.equal(p, q) for p, q in zip(kept.parameters(), again.parameters(), strict=True)
    )
    gram = kept.fc0.weight @ kept.fc0.weight.T
    torch.testing.assert_close(gram, torch.eye(8), atol=1e-5, rtol=0)
    assert not torch.allclose(other.fc0.weight @ other.fc0.weight.T, torch.eye(8), atol=1e-2)


def test_an_mlp_is_scored_on_a_tabular_dataset():
    """``score_arch`` on ``wine``: the proxy's batch of rows reaches an MLP built for 13 inputs."""
    config = ScoreConfig(dataset="wine", batch_size=40, repeats=2)
    mlp = get_space("mlp")
    model, batch = prepare(mlp, "mlp:16|relu|default", get_proxy("grad_norm"), config)
    assert batch.inputs.shape == (40, 13) and model(batch.inputs).shape == (40, 3)
    result = score_arch(mlp, "mlp:16|relu|default", "grad_norm", config)
    assert len(result.values) == 2 and math.isfinite(result.value)
    assert result.values[0] != result.values[1]  # repeat r: seed + r for weights and rows


def test_synthetic_data_takes_the_space_s_own_input():
    """ImageNet spaces are scored on 224x224 inputs and 1000 classes on synthetic data; an
    explicit value and a proxy's own size still win; CIFAR spaces and real data are unchanged."""
    mnasnet, nb201 = get_space("mnasnet"), get_space("nb201")
    synthetic = ScoreConfig(dataset="synthetic").for_space(mnasnet)
    assert synthetic.for_space(mnasnet) == synthetic
    resolved = synthetic.resolve(get_proxy("synflow"))
    assert (resolved.image_size, resolved.num_classes) == (224, 1000)
    assert synthetic.resolve(get_proxy("intrain")).image_size == 64  # InTrain's own input
    explicit = ScoreConfig(dataset="synthetic", image_size=32, num_classes=10).for_space(mnasnet)
    assert (explicit.resolve(get_proxy("synflow")).image_size, explicit.num_classes) == (32, 10)
    for config in (
        ScoreConfig(dataset="synthetic").for_space(nb201),
        ScoreConfig().for_space(mnasnet),
    ):
        resolved = config.resolve(get_proxy("synflow"))
        assert (resolved.image_size, resolved.num_classes) == (None, None)
    report = score_many("mnasnet[width_mult=0.25]", [mnasnet.sample(1, seed=0)[0]], ["l2_norm"],
                        ScoreConfig(dataset="synthetic"))  # fmt: skip
    assert (report.results[0].config.image_size, report.results[0].config.num_classes) == (
        224,
        1000,
    )
