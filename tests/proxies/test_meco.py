"""MeCo (``proxies/meco.py``)."""

from __future__ import annotations

import pytest
import torch

from trainfree.proxies.meco import layer_meco, min_eig_corr


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
