"""SynFlow (``proxies/synflow.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_naslib import run
from torch import nn

from trainfree.data.batch import Batch


def test_synflow_of_linear_chain_by_hand() -> None:
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    w1 = torch.tensor([[1.0, -2.0, 0.5], [-1.0, 3.0, 2.0]])
    w2 = torch.tensor([[-0.5, 2.0]])
    with torch.no_grad():
        model[0].weight.copy_(w1)
        model[2].weight.copy_(w2)
    # R = Σ_j |w2_j| Σ_i |w1_ji|; both layers' Σ|θ dR/dθ| equal R, so synflow = 2R.
    r = float((w2.abs() @ w1.abs().sum(dim=1, keepdim=True)).sum())
    batch = Batch(torch.ones(1, 3), torch.zeros(1, dtype=torch.long), 1)
    assert run("synflow", model, batch) == pytest.approx(math.log(2 * r), rel=1e-12)
    assert torch.equal(model[0].weight, w1.double())  # signs of the caller's model kept
    assert model[0].weight.grad is None


def test_synflow_removes_batchnorm() -> None:
    def chain(bn: bool) -> nn.Module:
        torch.manual_seed(0)
        layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
        if bn:
            layers.insert(1, nn.BatchNorm1d(4))
        return nn.Sequential(*layers)

    with_bn = chain(True)
    with torch.no_grad():
        with_bn[1].weight.fill_(-7.0)
        with_bn[1].running_var.fill_(0.01)
    batch = Batch(torch.ones(1, 3), torch.zeros(1, dtype=torch.long), 2)
    assert run("synflow", with_bn, batch) == pytest.approx(run("synflow", chain(False), batch))
    assert isinstance(with_bn[1], nn.BatchNorm1d)


def test_synflow_huge_network_stays_finite() -> None:
    torch.manual_seed(0)
    layers = [nn.Linear(16, 16, bias=False) for _ in range(150)]
    for layer in layers:
        nn.init.constant_(layer.weight, 3.0)  # each layer multiplies the flow by 48
    model = nn.Sequential(*layers)
    batch = Batch(torch.ones(1, 16), torch.zeros(1, dtype=torch.long), 16)
    value = run("synflow", model, batch)  # raw synflow ≈ 48^150 ≈ 1e252: its log is reported
    assert 150 * math.log(48) < value < 150 * math.log(48) + 20
