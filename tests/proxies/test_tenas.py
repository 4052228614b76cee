"""TE-NAS proxies (``proxies/tenas.py``): NTK condition number and linear regions."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from proxy_nets_seed import TinyResNet, image_batch, seeded, vector_batch
from torch import nn

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data import make_batch
from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.init import apply_init
from trainfree.proxies import get_proxy
from trainfree.proxies.tenas import condition_number, count_patterns, tenas_lr, tenas_ntk
from trainfree.run.scoring import ScoreConfig, score_arch
from trainfree.spaces import get_space


def test_ntk_condition_number_of_linear_model_has_closed_form() -> None:
    """f(x) = Wx: the logit-sum gradient is 1 xᵀ, so Θ = K X Xᵀ and κ = (σ_max / σ_min)²."""
    batch = vector_batch(n=6, features=12)
    model = seeded(lambda: nn.Linear(12, 5, bias=False))
    singular = torch.linalg.svdvals(batch.inputs.double())
    expected = float((singular[0] / singular[-1]) ** 2)
    assert tenas_ntk(model, batch) == pytest.approx(expected, rel=1e-4)


def test_uncoupled_ntk_equals_coupled_without_batch_statistics() -> None:
    """In eval mode nothing couples the samples, so the cheap vmap path is exact."""
    model = seeded(TinyResNet).eval()
    batch = image_batch()
    assert tenas_ntk(model, batch, coupled=False) == pytest.approx(tenas_ntk(model, batch), 1e-3)


def test_condition_number_of_singular_ntk_is_capped() -> None:
    assert condition_number(torch.zeros(4, 7)) == 1e5
    assert condition_number(torch.ones(4, 7), max_condition=50.0) == 50.0
    assert condition_number(torch.eye(3, 5)) == pytest.approx(1.0)


def test_count_patterns_equals_official_hamming_formula() -> None:
    gen = torch.Generator().manual_seed(3)
    patterns = torch.rand(60, 4, generator=gen) > 0.5
    a = patterns.double()
    hamming = a @ (1 - a).T + (1 - a) @ a.T
    official = float((1.0 / (hamming == 0).sum(1).double()).sum())
    assert count_patterns(patterns) == pytest.approx(official)
    assert count_patterns(patterns) <= 16


def test_linear_regions_of_one_dimensional_relu_net() -> None:
    """Breakpoints at -1, 0, 0.5, 2 (one of them doubled) split the line into 5 regions."""
    breakpoints = torch.tensor([-1.0, 0.0, 0.5, 2.0, 0.5])
    hidden = nn.Linear(1, 5)
    with torch.no_grad():
        hidden.weight.fill_(1.0)
        hidden.bias.copy_(-breakpoints)
    model = nn.Sequential(hidden, nn.ReLU(), nn.Linear(5, 2))
    grid = torch.linspace(-3.0, 3.0, 601).unsqueeze(1)
    batch = Batch(grid, torch.zeros(601, dtype=torch.long), 2)
    assert tenas_lr(model, batch, spatial_only=False) == 5.0
    with pytest.raises(TrainfreeError, match="spatial_only"):
        tenas_lr(model, batch)


def test_linear_regions_thin_network_uses_seeded_single_channel_crops() -> None:
    model = seeded(lambda: TinyResNet(in_channels=1))
    batch = image_batch(n=4, size=8)
    first = tenas_lr(model, batch, samples=50, n_batches=2, seed=7)
    assert first == tenas_lr(model, batch, samples=50, n_batches=2, seed=7)
    assert 1.0 <= first <= 100.0
    # a wide model is fed the batch itself, so the count is bounded by the batch size
    assert 1.0 <= tenas_lr(seeded(TinyResNet), batch) <= 4.0


ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def test_tenas_ntk_is_scored_on_the_official_c3_n1_network() -> None:
    """TE-NAS computes κ on NB201 at C=3, N=1 (prune_tenas.py model_config), not at C=16, N=5."""
    assert dict(get_proxy("tenas_ntk").build_overrides) == {"C": 3, "N": 1}
    config = ScoreConfig(dataset="synthetic", batch_size=8, repeats=1, seed=5)
    contiguous = dataclasses.replace(config, memory_format="contiguous")
    scored = score_arch(get_space("nb201"), ARCH, "tenas_ntk", contiguous).value

    batch = make_batch("synthetic", batch_size=8, seed=5, mode=DataMode.INPUTS)
    torch.manual_seed(5)
    small = get_space("nb201").build(ARCH, num_classes=batch.num_classes, C=3, N=1)
    apply_init(small, "kaiming_normal_fan_out").train()
    assert scored == pytest.approx(tenas_ntk(small, batch), rel=1e-9)
    # channels-last (the default) changes only rounding
    fast = score_arch(get_space("nb201"), ARCH, "tenas_ntk", config).value
    assert fast == pytest.approx(scored, rel=1e-4)
    assert sum(p.numel() for p in small.parameters()) < 20_000  # not the 1.5M-parameter network
