"""Jacobian covariance (``proxies/jacov.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_naslib import InputIgnoringNet, conv_net, flat_batch, image_batch, run, seeded
from torch import nn

from trainfree.data.batch import Batch
from trainfree.proxies.jacov import correlation_score


def test_jacov_invariances() -> None:
    model, batch = seeded(conv_net), image_batch()
    base = run("jacov", model, batch)
    scaled = nn.Sequential(model, nn.Linear(5, 5, bias=False))
    with torch.no_grad():
        scaled[1].weight.copy_(3.0 * torch.eye(5))
    assert run("jacov", scaled, batch) == pytest.approx(base, rel=1e-5)
    perm = torch.randperm(len(batch), generator=torch.Generator().manual_seed(1))
    permuted = Batch(batch.inputs[perm], batch.targets[perm], batch.num_classes)
    assert run("jacov", model, permuted) == pytest.approx(base, rel=1e-5)
    assert -1e6 < base <= -len(batch) + 1e-6  # the maximum −N: uncorrelated Jacobian rows


def test_jacov_identical_rows_and_zero_jacobian_share_the_infimum() -> None:
    n, k = 8, 1e-5
    infimum = -(math.log(n + k) + 1 / (n + k)) - (n - 1) * (math.log(k) + 1 / k)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(12, 5)).eval()  # J rows all Σ_k W_k
    assert run("jacov", linear, flat_batch(n)) == pytest.approx(infimum, rel=1e-6)
    assert run("jacov", seeded(InputIgnoringNet), image_batch(n)) == pytest.approx(infimum)
    assert correlation_score(torch.randn(n, 50)) > infimum
