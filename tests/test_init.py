"""Initialisation schemes draw the same weights whatever the model's memory layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainfree.init import apply_init


@pytest.mark.parametrize("scheme", ["default", "kaiming_normal_fan_in"])
def test_apply_init_ignores_the_layout(scheme):
    def drawn(channels_last: bool) -> nn.Module:
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        torch.manual_seed(0)
        return apply_init(net, scheme)

    plain, fast = drawn(False), drawn(True)
    assert fast[0].weight.is_contiguous(memory_format=torch.channels_last)  # layout kept
    for a, b in zip(plain.parameters(), fast.parameters(), strict=True):
        assert torch.equal(a, b)
