"""Fisher (``proxies/fisher.py``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from proxy_nets_baselines import score
from torch import nn

from trainfree.data.batch import Batch


@pytest.mark.parametrize("per_weight", [True, False])
def test_fisher_of_linear_layer(per_weight: bool) -> None:
    torch.manual_seed(6)
    model = nn.Linear(5, 3, bias=False)
    batch = Batch(torch.randn(8, 5), torch.randint(0, 3, (8,)), 3)
    act = model(batch.inputs).detach()
    grad = (act.softmax(1) - F.one_hot(batch.targets, 3)) / len(act)  # dCE/dlogits (mean loss)
    per_channel = 0.5 * (act * grad).pow(2).mean(0)
    expected = float(per_channel.sum()) * (5 if per_weight else 1)
    assert score("fisher", model, batch, per_weight=per_weight) == pytest.approx(expected)
