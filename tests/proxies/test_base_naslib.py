"""The proxy contract (``proxies/base.py``) for the NAS-Bench-Suite-Zero proxies: metadata,
finite on degenerate networks, deterministic, weights left unchanged."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_naslib import InputIgnoringNet, conv_net, image_batch, mlp, run, seeded

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies import get_proxy
from trainfree.proxies.synflow import LOG_ZERO

NAMES = ("params", "flops", "synflow", "naswot", "snip", "grad_norm", "jacov", "l2_norm", "plain")


EXPECTED_MODES = {
    "params": DataMode.FREE,
    "flops": DataMode.FREE,
    "l2_norm": DataMode.FREE,
    "synflow": DataMode.ONES,
    "naswot": DataMode.INPUTS,
    "jacov": DataMode.INPUTS,
    "snip": DataMode.LABELLED,
    "grad_norm": DataMode.LABELLED,
    "plain": DataMode.LABELLED,
}


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name: str) -> None:
    spec = get_proxy(name)
    assert spec.higher_is_better is True
    assert spec.data_mode is EXPECTED_MODES[name]
    assert spec.paper
    assert spec.default_init == "default"
    if spec.data_mode in (DataMode.LABELLED, DataMode.INPUTS):
        assert spec.batch_size == 32  # NASLib's zero-cost benchmark batch size
    assert spec.dtype is (torch.float64 if name == "synflow" else torch.float32)


@pytest.mark.parametrize("name", NAMES)
def test_finite_on_input_ignoring_network(name: str) -> None:
    batch = (
        image_batch(8) if name != "synflow" else Batch(torch.ones(1, 3, 6, 6), torch.zeros(1), 5)
    )
    assert math.isfinite(run(name, seeded(InputIgnoringNet), batch))
    if name == "synflow":
        assert run(name, seeded(InputIgnoringNet), batch) == LOG_ZERO


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("factory", [conv_net, mlp])
def test_deterministic_and_leaves_weights(name: str, factory) -> None:
    batch = image_batch(8, size=2) if factory is mlp else image_batch(8)
    model = seeded(factory)
    before = {k: v.clone() for k, v in model.named_parameters()}
    first = run(name, model, batch)
    assert run(name, seeded(factory), batch) == first
    for key, value in model.named_parameters():
        assert torch.equal(value.float(), before[key]), key
        assert value.grad is None


def test_nb201_all_none_and_regular_cells() -> None:
    spaces = pytest.importorskip("trainfree.spaces")
    if "nb201" not in spaces.SPACES:
        pytest.skip("nb201 space not available")
    space = spaces.get_space("nb201")
    archs = [
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|none~2|",
    ]
    ones_batch = Batch(torch.ones(1, 3, 8, 8), torch.zeros(1).long(), 10)
    values = {}
    for arch in archs:
        for name in NAMES:
            ones = get_proxy(name).data_mode is DataMode.ONES
            batch = ones_batch if ones else image_batch(8, size=8, num_classes=10)
            model = seeded(lambda a=arch: space.build(a, num_classes=10, C=4, N=1))
            values[arch, name] = run(name, model, batch)
            assert math.isfinite(values[arch, name])
    for name in ("params", "flops", "synflow", "naswot", "jacov"):
        assert values[archs[1], name] > values[archs[0], name], name
