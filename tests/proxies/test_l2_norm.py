"""``l2_norm``: the sum of layer weight norms."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_naslib import flat_batch, mlp, run


def test_l2_norm_sums_layer_norms() -> None:
    model = mlp()
    with torch.no_grad():
        model[1].weight.fill_(1.0)  # 8 x 12 -> norm sqrt(96)
        model[3].weight.fill_(-2.0)  # 5 x 8 -> norm 2 sqrt(40)
    expected = math.sqrt(96) + 2 * math.sqrt(40)
    assert run("l2_norm", model, flat_batch()) == pytest.approx(expected, rel=1e-6)
