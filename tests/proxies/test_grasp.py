"""GraSP (``proxies/grasp.py``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from proxy_nets_baselines import score
from torch import nn

from trainfree.data.batch import Batch


def test_grasp_matches_explicit_hessian() -> None:
    torch.manual_seed(5)
    model = nn.Linear(4, 3, bias=False)
    batch = Batch(torch.randn(6, 4), torch.randint(0, 3, (6,)), 3)
    w0 = model.weight.detach().clone()

    def loss(w: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(batch.inputs @ w.reshape(3, 4).T, batch.targets)

    flat = w0.flatten()
    g = torch.autograd.functional.jacobian(loss, flat)
    h = torch.autograd.functional.hessian(loss, flat)
    expected = float(-(flat * (h @ g)).sum())
    assert score("grasp", model, batch) == pytest.approx(expected, rel=1e-4)
