"""``params``: the parameter count."""

from __future__ import annotations

import torch
from proxy_nets_naslib import run
from torch import nn

from trainfree.data.batch import Batch


def test_params_of_linear_layer() -> None:
    assert run("params", nn.Linear(3, 2), Batch(torch.ones(1, 3), torch.zeros(1), 2)) == 8.0
    frozen = nn.Linear(3, 2)
    frozen.bias.requires_grad_(False)
    assert run("params", frozen, Batch(torch.ones(1, 3), torch.zeros(1), 2)) == 6.0
