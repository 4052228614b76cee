"""The proxy contract (``proxies/base.py``) for the seed proxies: finite and deterministic,
also on degenerate NB201 cells."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_seed import TinyResNet, image_batch, seeded, tiny_mlp, vector_batch

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.tenas import tenas_ntk
from trainfree.spaces import SPACES, get_space

SEED_PROXIES = (
    "tenas_ntk",
    "tenas_lr",
    "near",
    "intrain",
    "intrain_pr",
    "intrain_grad",
    "gradalign",
    "gradalign_det",
)


DEGENERATE = (
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|",
)


@pytest.mark.parametrize("name", SEED_PROXIES)
@pytest.mark.parametrize("make", [TinyResNet, tiny_mlp])
def test_every_seed_proxy_is_finite_and_deterministic(name: str, make) -> None:
    spec = get_proxy(name)
    batch = image_batch() if make is TinyResNet else vector_batch()
    params = {"spatial_only": False} if name == "tenas_lr" and make is not TinyResNet else {}
    values = [compute_proxy(spec, seeded(make), batch, **params) for _ in range(2)]
    assert math.isfinite(values[0])
    assert values[0] == values[1]


@pytest.mark.skipif("nb201" not in SPACES, reason="the nb201 space is not available")
@pytest.mark.parametrize("arch", DEGENERATE)
def test_degenerate_nb201_archs_score_finite(arch: str) -> None:
    space = get_space("nb201")
    batch = image_batch(n=6, size=16, classes=10)
    for name in SEED_PROXIES:
        spec = get_proxy(name)
        torch.manual_seed(0)
        overrides = {"C": 4, "N": 1} if name != "tenas_lr" else dict(spec.build_overrides)
        model = space.build(arch, num_classes=10, **overrides)
        params = {"samples": 40} if name == "tenas_lr" else {}
        value = compute_proxy(spec, model, batch, **params)
        assert math.isfinite(value), (name, arch)
    if arch == DEGENERATE[0]:
        torch.manual_seed(0)
        model = space.build(arch, num_classes=10, C=4, N=1)
        assert tenas_ntk(model, batch) == 1e5
