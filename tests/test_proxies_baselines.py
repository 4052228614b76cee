"""Baseline proxies (grasp, fisher, epe_nas, zen, zico, meco, swap) and rank ensembles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch
from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES, compute_proxy, get_proxy
from trainfree.proxies.ensemble import (
    NAMED_ENSEMBLES,
    Ensemble,
    parse_ensemble,
    rank_aggregate,
)
from trainfree.proxies.epe_nas import epe_score
from trainfree.proxies.meco import layer_meco, min_eig_corr
from trainfree.proxies.swap import count_patterns, regular_factor
from trainfree.proxies.zico import zico_from_grads

NAMES = ("grasp", "fisher", "epe_nas", "zen", "zico", "meco", "meco_opt", "swap", "swap_reg")


class Zero(nn.Module):
    """Multiplies by zero: everything after it ignores the input and gets no gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0


def conv_net(zero_at: int | None = None) -> nn.Module:
    layers = [
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 8, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    ]  # fmt: skip
    if zero_at is not None:
        layers.insert(zero_at, Zero())
    return nn.Sequential(*layers)


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
        nn.Linear(16, 10),
    )  # fmt: skip


def make_batch(n: int = 16, size: int = 8, classes: int = 10, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=gen)
    return Batch(x, torch.randint(0, classes, (n,), generator=gen), classes)


def score(name: str, model: nn.Module, batch: Batch, seed: int = 0, **params) -> float:
    torch.manual_seed(seed)
    return compute_proxy(get_proxy(name), model, batch, **params)


# --- every proxy: registered, finite, deterministic, degenerate networks ---------------------


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_metadata(name: str) -> None:
    spec = get_proxy(name)
    assert spec.higher_is_better
    assert spec.paper and spec.batch_size


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("build", [conv_net, mlp])
def test_finite_and_seeded(name: str, build) -> None:
    torch.manual_seed(1)
    model = build()
    batch = make_batch()
    first = score(name, model, batch)
    assert math.isfinite(first)
    assert score(name, model, batch) == pytest.approx(first, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("zero_at", [0, 3, 6])
def test_degenerate_networks_are_finite(name: str, zero_at: int) -> None:
    torch.manual_seed(2)
    assert math.isfinite(score(name, conv_net(zero_at), make_batch()))


def test_degenerate_values() -> None:
    """Documented values: no gradient -> grasp/zico 0; input ignored -> epe about 0, zen floor."""
    torch.manual_seed(3)
    batch = make_batch()
    blind = conv_net(zero_at=0)  # the output does not depend on the input
    assert score("grasp", conv_net(zero_at=6), batch) == 0.0
    assert score("zico", conv_net(zero_at=6), batch) == 0.0
    assert score("epe_nas", blind, batch) < 1e-3 < score("epe_nas", conv_net(), batch)
    assert score("zen", blind, batch) < -80 < score("zen", conv_net(), batch)


def test_proxies_leave_weights_unchanged() -> None:
    torch.manual_seed(4)
    model = conv_net()
    before = [p.detach().clone() for p in model.parameters()]
    for name in NAMES:
        score(name, model, make_batch())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


# --- known answers ---------------------------------------------------------------------------


def test_grasp_matches_explicit_hessian() -> None:
    torch.manual_seed(5)
    model = nn.Linear(4, 3, bias=False)
    batch = Batch(torch.randn(6, 4), torch.randint(0, 3, (6,)), 3)
    w0 = model.weight.detach().clone()

    def loss(w: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(batch.inputs @ w.reshape(3, 4).T, batch.targets)

    flat = w0.flatten()
    g = torch.autograd.functional.jacobian(loss, flat)
    h = torch.autograd.functional.hessian(loss, flat)
    expected = float(-(flat * (h @ g)).sum())
    assert score("grasp", model, batch) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("per_weight", [True, False])
def test_fisher_of_linear_layer(per_weight: bool) -> None:
    torch.manual_seed(6)
    model = nn.Linear(5, 3, bias=False)
    batch = Batch(torch.randn(8, 5), torch.randint(0, 3, (8,)), 3)
    act = model(batch.inputs).detach()
    grad = (act.softmax(1) - F.one_hot(batch.targets, 3)) / len(act)  # dCE/dlogits (mean loss)
    per_channel = 0.5 * (act * grad).pow(2).mean(0)
    expected = float(per_channel.sum()) * (5 if per_weight else 1)
    assert score("fisher", model, batch, per_weight=per_weight) == pytest.approx(expected)


def test_epe_score_known_correlations() -> None:
    k = 1e-5
    jac = torch.tensor([[1.0, 0, -1, 0], [0, 1, 0, -1], [1, 2, 3, 4], [2, 4, 6, 8.5]])
    labels = torch.tensor([0, 0, 1, 2])
    # class 0: orthogonal centred rows (corr 0); class 1: one row (corr 1)
    expected = abs(2 * math.log(1 + k) + 2 * math.log(k)) + abs(math.log(1 + k)) * 2
    assert epe_score(jac, labels, num_classes=10) == pytest.approx(expected)
    constant = torch.ones(3, 4)  # undefined correlations count as 1
    assert epe_score(constant, torch.zeros(3, dtype=torch.long), 10) == pytest.approx(
        9 * math.log(1 + k)
    )


def test_zen_scales_with_mixup_gamma() -> None:
    """Without BN or biases the features are linear, so doubling gamma adds exactly log 2."""
    torch.manual_seed(7)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 10),
    )  # fmt: skip
    batch = make_batch()
    small = score("zen", model, batch, mixup_gamma=1e-2)
    large = score("zen", model, batch, mixup_gamma=2e-2)
    assert large - small == pytest.approx(math.log(2), abs=1e-4)


def test_zen_bn_variance_modes() -> None:
    torch.manual_seed(8)
    batch = make_batch()
    running = score("zen", conv_net(), batch, bn_var="running")
    assert running != pytest.approx(score("zen", conv_net(), batch, bn_var="batch"))
    with pytest.raises(TrainfreeError):
        score("zen", conv_net(), batch, bn_var="bogus")


def test_zico_from_hand_made_gradients() -> None:
    # element 0: |g| mean 2, std 1; element 1: constant gradient (std 0) is skipped
    parts = [[torch.tensor([1.0, 2.0])], [torch.tensor([3.0, 2.0])]]
    assert zico_from_grads(parts) == pytest.approx(math.log(2.0))
    constant = [[torch.tensor([1.0, -1.0])], [torch.tensor([1.0, -1.0])]]
    assert zico_from_grads(constant) == 0.0


def test_zico_cumulative_on_identical_parts() -> None:
    """Two identical halves give the gradient g twice; the official cumulative gradients are g
    and 2g, so every element has mean|.|/std = 1.5/0.5 = 3."""
    torch.manual_seed(9)
    model = nn.Linear(6, 4, bias=False)
    half = Batch(torch.randn(5, 6), torch.randint(0, 4, (5,)), 4)
    batch = Batch(half.inputs.repeat(2, 1), half.targets.repeat(2), 4)
    assert score("zico", model, batch) == pytest.approx(math.log(3 * 24), rel=1e-6)
    with pytest.raises(TrainfreeError):
        score("zico", model, batch, splits=1)


def test_meco_independent_vs_duplicated_channels() -> None:
    gen = torch.Generator().manual_seed(10)
    independent = torch.randn(4, 20000, generator=gen)
    assert min_eig_corr(independent) > 0.9
    duplicated = torch.cat([independent[:2], independent[:2]])
    assert abs(min_eig_corr(duplicated)) < 1e-8
    # layer term: first sample of an (N, C, H, W) output; no spatial extent -> 0
    feature_map = independent.reshape(1, 4, 100, 200)
    assert layer_meco(feature_map) == pytest.approx(min_eig_corr(independent))
    assert layer_meco(torch.randn(3, 7)) == 0.0


def test_meco_opt_rescales_sampled_channels() -> None:
    torch.manual_seed(11)
    x = torch.randn(1, 16, 30, 30)
    identity_like = layer_meco(x, sample_channels=8)
    assert 0 < identity_like <= 16 / 8
    assert layer_meco(x[:, :4], sample_channels=8) == pytest.approx(layer_meco(x[:, :4]))


def test_swap_counts_distinct_unit_patterns() -> None:
    # 3 samples x 5 units; unit patterns across samples: 101, 101, 000, 101, 010 -> 3 distinct
    acts = torch.tensor([[1.0, 0.5, 0, 2, 0], [0, 0, 0, 0, 3], [4, 1, 0, 5, 0]])
    assert count_patterns(acts) == 3
    assert count_patterns(torch.zeros(3, 0)) == 0


def test_swap_reg_prior() -> None:
    assert regular_factor(1_500_000, mu=1.5, sigma=1.5) == pytest.approx(1.0)
    assert regular_factor(0, mu=1.5, sigma=1.5) == pytest.approx(math.exp(-1.5))
    torch.manual_seed(12)
    model, batch = conv_net(), make_batch()
    num_params = sum(p.numel() for p in model.parameters())
    assert score("swap_reg", model, batch) == pytest.approx(
        score("swap", model, batch) * regular_factor(num_params, 1.5, 1.5)
    )
    with pytest.raises(TrainfreeError):
        regular_factor(10, mu=1.0, sigma=0.0)


def test_on_nb201_when_available() -> None:
    from trainfree.spaces import SPACES, get_space

    if "nb201" not in SPACES:
        pytest.skip("nb201 space not registered")
    space = get_space("nb201")
    arch = space.sample(1, seed=0)[0]
    torch.manual_seed(13)
    model = space.build(arch, num_classes=10, C=4, N=1)
    batch = make_batch(n=8, size=8)
    for name in NAMES:
        assert math.isfinite(score(name, model, batch)), name


# --- rank ensembles --------------------------------------------------------------------------

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
