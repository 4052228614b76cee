"""``flops``: multiply-accumulate count of a forward pass."""

from __future__ import annotations

import torch
from proxy_nets_naslib import image_batch, run
from torch import nn

from trainfree.data.batch import Batch


def test_flops_of_linear_and_conv() -> None:
    batch = Batch(torch.ones(4, 3), torch.zeros(4), 2)
    assert run("flops", nn.Linear(3, 2), batch) == 2 * 3 * 2  # one image, one MAC = 2 FLOPs
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    assert run("flops", conv, image_batch(size=5)) == 2 * (3 * 9) * 4 * 25
