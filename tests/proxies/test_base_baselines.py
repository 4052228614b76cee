"""The proxy contract (``proxies/base.py``) for the baseline proxies: metadata, finite and
seeded, degenerate networks, weights left unchanged."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_baselines import conv_net, make_batch, score
from torch import nn

from trainfree.proxies import get_proxy

NAMES = ("grasp", "fisher", "epe_nas", "zen", "zico", "meco", "meco_opt", "swap", "swap_reg")


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
        nn.Linear(16, 10),
    )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_metadata(name: str) -> None:
    spec = get_proxy(name)
    assert spec.higher_is_better
    assert spec.paper and spec.batch_size


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("build", [conv_net, mlp])
def test_finite_and_seeded(name: str, build) -> None:
    torch.manual_seed(1)
    model = build()
    batch = make_batch()
    first = score(name, model, batch)
    assert math.isfinite(first)
    assert score(name, model, batch) == pytest.approx(first, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("zero_at", [0, 3, 6])
def test_degenerate_networks_are_finite(name: str, zero_at: int) -> None:
    torch.manual_seed(2)
    assert math.isfinite(score(name, conv_net(zero_at), make_batch()))


def test_degenerate_values() -> None:
    """Documented values: no gradient -> grasp/zico 0; input ignored -> epe about 0, zen floor."""
    torch.manual_seed(3)
    batch = make_batch()
    blind = conv_net(zero_at=0)  # the output does not depend on the input
    assert score("grasp", conv_net(zero_at=6), batch) == 0.0
    assert score("zico", conv_net(zero_at=6), batch) == 0.0
    assert score("epe_nas", blind, batch) < 1e-3 < score("epe_nas", conv_net(), batch)
    assert score("zen", blind, batch) < -80 < score("zen", conv_net(), batch)


def test_proxies_leave_weights_unchanged() -> None:
    torch.manual_seed(4)
    model = conv_net()
    before = [p.detach().clone() for p in model.parameters()]
    for name in NAMES:
        score(name, model, make_batch())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_on_nb201_when_available() -> None:
    from trainfree.spaces import SPACES, get_space

    if "nb201" not in SPACES:
        pytest.skip("nb201 space not registered")
    space = get_space("nb201")
    arch = space.sample(1, seed=0)[0]
    torch.manual_seed(13)
    model = space.build(arch, num_classes=10, C=4, N=1)
    batch = make_batch(n=8, size=8)
    for name in NAMES:
        assert math.isfinite(score(name, model, batch)), name
