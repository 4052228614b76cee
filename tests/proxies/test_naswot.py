"""NASWOT (``proxies/naswot.py``): the binary-code kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from proxy_nets_naslib import conv_net, flat_batch, image_batch, run, seeded
from torch import nn

from trainfree.data.batch import Batch
from trainfree.errors import TrainfreeError


def test_naswot_matches_hand_kernel() -> None:
    model = nn.Sequential(nn.Flatten(), nn.ReLU(), nn.Linear(12, 3), nn.ReLU())
    batch = flat_batch(6, seed=3)
    with torch.no_grad():
        pre = [batch.inputs.flatten(1), model[2](batch.inputs.flatten(1).relu())]
    kernel = np.zeros((6, 6))
    for x in pre:
        c = (x > 0).double().numpy()
        kernel += c @ c.T + (1 - c) @ (1 - c).T
    assert run("naswot", model, batch) == pytest.approx(np.linalg.slogdet(kernel)[1])


def test_naswot_identical_inputs_give_the_minimum() -> None:
    model = seeded(conv_net)
    same = Batch(image_batch(1).inputs.expand(8, -1, -1, -1).clone(), torch.zeros(8).long(), 5)
    floor = run("naswot", model, same)
    assert floor == 0.0
    assert run("naswot", model, same, singular_score=-3.0) == -3.0
    assert run("naswot", model, image_batch(8)) > floor


def test_naswot_refuses_a_model_without_relu() -> None:
    with pytest.raises(TrainfreeError, match="ReLU"):
        run("naswot", nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Tanh()), flat_batch())
