"""Proxies scored together give the values they give alone, computing common work once."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import shared, sharing
from trainfree.run.runner import score_many
from trainfree.run.scoring import (
    ScoreConfig,
    group_by_preparation,
    score_arch,
    score_group,
    score_proxies,
)
from trainfree.spaces import SearchSpace, register_space
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


def test_shared_memoises_per_model_batch_and_arguments():
    calls: list[tuple] = []

    @shared
    def work(model: object, batch: object, k: int) -> int:
        calls.append((id(model), k))
        return k * 10

    a, b, batch = object(), object(), object()
    assert work(a, batch, 1) == work(a, batch, 1) == 10 and len(calls) == 2  # no block: no cache
    calls.clear()
    with sharing(["x"]):
        assert [work(a, batch, 1), work(a, batch, 1), work(b, batch, 1), work(a, batch, 2)] == [
            10,
            10,
            10,
            20,
        ]
    assert len(calls) == 3
    with sharing(["x"]):
        work(a, batch, 1)
    assert len(calls) == 4  # a new block starts empty
