"""Zen-NAS (``proxies/zen.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_baselines import conv_net, make_batch, score
from torch import nn

from trainfree.errors import TrainfreeError


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
