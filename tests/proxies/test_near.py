"""NEAR (``proxies/near.py``): effective rank and the layer sum."""

from __future__ import annotations

import pytest
import torch
from proxy_nets_seed import TinyResNet, image_batch, seeded, tiny_mlp, vector_batch

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.proxies.near import effective_rank, near


def test_effective_rank_known_answers() -> None:
    assert effective_rank(torch.eye(4)) == pytest.approx(4.0)
    assert effective_rank(torch.outer(torch.arange(1.0, 6.0), torch.ones(3))) == pytest.approx(1.0)
    assert effective_rank(torch.zeros(3, 3)) == 0.0
    # two equal singular values and one zero: erank 2
    assert effective_rank(torch.diag(torch.tensor([3.0, 3.0, 0.0]))) == pytest.approx(2.0)


def test_near_sums_layer_ranks_and_is_deterministic() -> None:
    model = seeded(tiny_mlp)
    batch = vector_batch(n=20)
    score = near(model, batch, seed=0)
    assert score == near(model, batch, seed=0)
    # hooked: 3 linear (16, 8, 5 columns), ReLU (16), Tanh (8): every erank at most its width
    assert 0.0 < score <= 16 + 8 + 5 + 16 + 8


def test_near_on_conv_net_leaves_batchnorm_buffers_untouched() -> None:
    model = seeded(TinyResNet)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert near(model, image_batch(), seed=1) > 0.0
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])
