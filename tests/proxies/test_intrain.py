"""InTrain (``proxies/intrain.py``): participation ratio, gradient health, layer sets."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_seed import TinyResNet, image_batch, seeded, tiny_mlp

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.errors import TrainfreeError
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.intrain import block_names, participation_ratio


def test_participation_ratio_known_answers() -> None:
    gen = torch.Generator().manual_seed(4)
    isotropic = torch.randn(20000, 6, generator=gen)
    assert participation_ratio(isotropic) == pytest.approx(6.0, rel=0.02)
    rank_one = torch.randn(500, 1, generator=gen) * torch.randn(1, 6, generator=gen)
    assert participation_ratio(rank_one) == pytest.approx(1.0, rel=1e-6)
    assert participation_ratio(torch.full((10, 4), 3.0)) == 1.0
    conv = torch.randn(50, 5, 4, 4, generator=gen)  # channels are dim 1
    assert participation_ratio(conv) == pytest.approx(5.0, rel=0.1)


def test_participation_ratio_matches_a_float64_covariance() -> None:
    """The float32 Gram with float64 assembly agrees with an all-float64 covariance, even for
    channels with a large common offset (no cancellation: the data are centred first)."""
    gen = torch.Generator().manual_seed(5)
    maps = torch.randn(16, 8, 12, 12, generator=gen) @ torch.ones(12, 12) / 4 + 50.0
    maps = torch.relu(maps + torch.randn(16, 8, 12, 12, generator=gen))
    x = maps.movedim(1, -1).reshape(-1, 8).double()
    x = x - x.mean(0)
    cov = x.T @ x / x.shape[0] + 1e-10 * torch.eye(8, dtype=torch.float64)
    reference = float(cov.trace() ** 2 / cov.square().sum())
    assert participation_ratio(maps) == pytest.approx(reference, rel=1e-5)
    channels_last = maps.contiguous(memory_format=torch.channels_last)
    assert participation_ratio(channels_last) == pytest.approx(reference, rel=1e-5)


def test_intrain_combines_its_two_terms() -> None:
    batch = image_batch(n=6)
    scores = {}
    for name in ("intrain", "intrain_pr", "intrain_grad"):
        model = seeded(TinyResNet)
        scores[name] = compute_proxy(get_proxy(name), model, batch)
    layers = 3  # default "blocks": the stem's 3 modules (the first of the largest containers)
    expected = scores["intrain_pr"] * (1 + scores["intrain_grad"]) / math.log(layers + 1)
    assert scores["intrain"] == pytest.approx(expected)
    n_params = len(list(TinyResNet().parameters()))
    assert 0.0 < scores["intrain_grad"] <= n_params


def test_intrain_layer_sets() -> None:
    model = seeded(TinyResNet)
    assert block_names(model) == {"stem.0", "stem.1", "stem.2"}  # the largest container
    assert block_names(tiny_mlp()) == {str(i) for i in range(6)}
    batch = image_batch(n=6)
    spec = get_proxy("intrain_pr")
    for layers in ("relu", "weighted", "blocks"):
        assert compute_proxy(spec, model, batch, layers=layers) > 0.0
    with pytest.raises(TrainfreeError, match="layer set"):
        compute_proxy(spec, model, batch, layers="cells")
