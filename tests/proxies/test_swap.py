"""SWAP (``proxies/swap.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_baselines import conv_net, make_batch, score

from trainfree.errors import TrainfreeError
from trainfree.proxies.swap import count_patterns, regular_factor


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


def test_swap_refuses_a_network_without_relu() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 8), torch.nn.GELU())
    with pytest.raises(TrainfreeError, match="calls no ReLU"):
        score("swap", model, make_batch())
