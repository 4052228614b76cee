"""VKDNW (``proxies/vkdnw.py``): the covariance factor, the decile entropy, the per-image
Jacobian, and the score on a hand-computable model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data.batch import Batch
from trainfree.init import apply_init
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.ensemble import parse_ensemble
from trainfree.proxies.functional import frozen_batchnorm_stats, sharing
from trainfree.proxies.vkdnw import (
    covariance_factor,
    first_weight_jacobian,
    spectrum_entropy,
    vkdnw_terms,
)
from trainfree.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


def test_covariance_factor_is_the_cholesky_factor_of_the_softmax_covariance() -> None:
    logits = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    factor = covariance_factor(logits)
    p = torch.softmax(logits.double(), 1) * 0.95 + 0.05 / 6
    cov = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    assert torch.allclose(factor @ factor.transpose(1, 2), cov, atol=1e-12)
    assert torch.equal(factor, torch.tril(factor))


def test_spectrum_entropy_hand_case() -> None:
    # eigenvalues 1..10: deciles 0.1..0.9 interpolate to 1.9, 2.8, ..., 9.1 (sum 49.5)
    deciles = [1.9 + 0.9 * k for k in range(9)]
    q = [d / 49.5 for d in deciles]
    expected = -sum(v * math.log(v + 1e-10) for v in q)
    assert spectrum_entropy(torch.arange(1.0, 11.0)) == pytest.approx(expected, rel=1e-9)
    assert spectrum_entropy(torch.full((20,), 3.0)) == pytest.approx(math.log(9), rel=1e-9)
    assert spectrum_entropy(torch.zeros(5)) == 0.0


def test_per_image_jacobian_matches_vmap_of_single_images() -> None:
    torch.manual_seed(0)
    model = get_space("nb201[C=4,N=1]").build(ARCH, num_classes=3).train()
    inputs = torch.randn(4, 3, 8, 8)
    jacobian = first_weight_jacobian(model, inputs, 128)
    named = list(model.named_parameters())
    constants = {n: t.detach() for n, t in [*named, *model.named_buffers()]}
    units = {n: torch.zeros_like(p).flatten().index_fill_(0, torch.tensor([0]), 1.0).view_as(p)
             for n, p in named}  # fmt: skip

    def logits(shift: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        moved = {n: p.detach() + shift[i] * units[n] for i, (n, p) in enumerate(named)}
        return functional_call(model, {**constants, **moved}, (image.unsqueeze(0),))[0]

    with frozen_batchnorm_stats(model):
        reference = vmap(jacrev(logits), in_dims=(None, 0))(torch.zeros(len(named)), inputs)
    assert jacobian.shape == (4, 3, len(named))
    assert torch.allclose(jacobian, reference, atol=1e-5)


def test_vkdnw_of_a_linear_model_by_hand() -> None:
    # z = W x + b, selected: W[0, 0] and b[0]: J_n = [[x_n0, 1], [0, 0]]
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        model.bias.zero_()
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    fisher = torch.zeros(2, 2, dtype=torch.float64)
    for x in inputs.double():
        z = model.weight.detach().double() @ x
        p = torch.softmax(z, 0) * 0.95 + 0.025
        d1 = math.sqrt(p[0] * p[1])  # L = [[d1, 0], [-p1 d1 / q1 ... ]] with q1 = p1: L[1,0] = -d1
        a = torch.tensor([[d1 * x[0], d1], [-d1 * x[0], -d1]], dtype=torch.float64)
        fisher += a.T @ a / 3
    expected = spectrum_entropy(torch.linalg.eigvalsh(fisher))
    entropy, count = vkdnw_terms(model, Batch(inputs, torch.zeros(3, dtype=torch.long), 2), 128)
    assert count == 2
    assert entropy == pytest.approx(expected, rel=1e-6)


def test_vkdnw_is_layers_plus_entropy() -> None:
    torch.manual_seed(0)
    model = get_space("nb201[C=4,N=1]").build(ARCH, num_classes=4)
    apply_init(model, "kaiming_normal_fan_in")
    batch = Batch(torch.randn(6, 3, 8, 8), torch.zeros(6, dtype=torch.long), 4)
    with sharing() as cache:
        single = compute_proxy(get_proxy("vkdnw"), model, batch)
        entropy = compute_proxy(get_proxy("vkdnw_entropy"), model, batch)
    assert len(cache) == 1  # one Fisher matrix for both
    tensors = len(list(model.parameters()))
    assert single == pytest.approx(tensors + entropy)
    assert 0.0 < entropy <= math.log(9)
    assert not get_proxy("vkdnw").train_mode  # the official get_fisher runs in eval mode


def test_vkdnw_agg_is_the_published_aggregate() -> None:
    ensemble = parse_ensemble("vkdnw_agg")
    assert set(ensemble.components) == {
        "vkdnw", "jacov", "az_expressivity", "az_trainability", "az_complexity",
    }  # fmt: skip
    assert ensemble.method == "azlog"
