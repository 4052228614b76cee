"""AZ-NAS's proxies (``proxies/azn.py``): hand-computed terms and the NB201 network."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data.batch import Batch
from trainfree.init import apply_init
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.azn import (
    IDENTITY_TERM,
    feature_names,
    jacobian_term,
    spectral_entropy,
)
from trainfree.proxies.ensemble import parse_ensemble
from trainfree.proxies.functional import sharing
from trainfree.spaces import get_space

AZ = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")
IDENTITY_CELL = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
CONV_CELL = (
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
)


def test_spectral_entropy_hand_case() -> None:
    # 4 positions x 2 channels, already centred: covariance diag(0.5, 2), p = (0.2, 0.8)
    rows = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    feature = rows.T.reshape(1, 2, 2, 2)
    expected = -(0.2 * math.log(0.2 + 1e-8) + 0.8 * math.log(0.8 + 1e-8))
    assert spectral_entropy(feature) == pytest.approx(expected, rel=1e-6)
    assert spectral_entropy(feature + 7.0) == pytest.approx(expected, rel=1e-6)  # centred
    assert spectral_entropy(torch.zeros(2, 3, 4, 4)) == 0.0


def test_jacobian_term_hand_cases() -> None:
    gen = torch.Generator().manual_seed(0)
    f_in = torch.randn(2, 1, 4, 4, requires_grad=True)
    # one channel: g_inᵀ g_out / n = 2 mean(g²) = 2 exactly, so the term is 2 − 2 − 1/2
    assert jacobian_term(f_in, 2 * f_in, gen) == pytest.approx(-0.5, abs=1e-6)
    assert jacobian_term(f_in, f_in.clone(), gen) == IDENTITY_TERM
    # halving the resolution: the 4 unshuffled channels each equal g_out, s = ‖(1,1,1,1)‖ = 2
    pooled = 4 * F.avg_pool2d(f_in, 2)
    assert jacobian_term(f_in, pooled, gen) == pytest.approx(-0.5, abs=1e-6)


def _nb201(arch: str, seed: int = 0) -> tuple[torch.nn.Module, Batch]:
    torch.manual_seed(seed)
    model = get_space("nb201[C=4,N=1]").build(arch, num_classes=10)
    apply_init(model, "kaiming_normal_fan_in")
    inputs = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    return model, Batch(inputs, torch.zeros(8, dtype=torch.long), 10)


def test_nb201_features_are_the_stem_and_every_block() -> None:
    model, _ = _nb201(CONV_CELL)
    assert feature_names(model) == ["stem", *(f"cells.{i}" for i in range(5))]


def test_four_proxies_share_one_pass_and_match_alone() -> None:
    model, batch = _nb201(CONV_CELL)
    alone = {}
    for name in AZ:
        torch.manual_seed(1)
        alone[name] = compute_proxy(get_proxy(name), model, batch)
    together = {}
    with sharing():
        for name in AZ:
            torch.manual_seed(1)
            together[name] = compute_proxy(get_proxy(name), model, batch)
    assert together == pytest.approx(alone)
    assert all(math.isfinite(v) for v in alone.values())
    assert alone["az_complexity"] == compute_proxy(get_proxy("flops"), model, batch)
    assert 0 < alone["az_expressivity"] <= 6 * math.log(16)  # 6 features of at most 16 channels
    assert alone["az_trainability"] <= 0.0  # every term is at most 0


def test_an_identity_cell_is_last_in_trainability() -> None:
    model, batch = _nb201(IDENTITY_CELL)
    value = compute_proxy(get_proxy("az_trainability"), model, batch)
    assert value == pytest.approx(3 * IDENTITY_TERM / 5, rel=1e-6)  # 3 identity cells of 5 blocks


def test_az_proxies_metadata() -> None:
    for name in AZ:
        spec = get_proxy(name)
        assert spec.higher_is_better and spec.batch_size == 64
        assert spec.default_init == "kaiming_normal_fan_in" and "AZ-NAS" in spec.paper


def test_azn_is_exactly_az_nas_combination() -> None:
    ensemble = parse_ensemble("azn")
    assert ensemble.components == AZ and ensemble.method == "azlog"
