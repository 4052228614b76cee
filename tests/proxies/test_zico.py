"""ZiCo (``proxies/zico.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_baselines import score
from torch import nn

from trainfree.data.batch import Batch
from trainfree.errors import TrainfreeError
from trainfree.proxies.zico import zico_from_grads


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
