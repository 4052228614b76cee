"""The MLP space (``spaces/mlp.py``): strings, sampling, moves, networks and their init."""

from __future__ import annotations

import math
import random

import pytest
import torch

from trainfree.init import INITS
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.mlp import ACTIVATIONS, WIDTHS, parse_mlp


@pytest.fixture(scope="module")
def space():
    return get_space("mlp")


def _difference(a: str, b: str) -> int:
    """How many of (depth, each width, activation, init) differ."""
    x, y = parse_mlp(a), parse_mlp(b)
    if len(x.hidden) != len(y.hidden):
        return 1 + (x.activation != y.activation) + (x.init != y.init)
    widths = sum(p != q for p, q in zip(x.hidden, y.hidden, strict=True))
    return widths + (x.activation != y.activation) + (x.init != y.init)


def test_canonical_form_roundtrip(space):
    assert space.canonical(" MLP:64-32 | ReLU | Kaiming_Normal_Fan_In ") == (
        "mlp:64-32|relu|kaiming_normal_fan_in"
    )
    assert space.canonical("7|tanh|default") == "mlp:7|tanh|default"
    for arch in space.sample(30, seed=1):
        assert space.canonical(arch) == arch
    assert space.size() is None


@pytest.mark.parametrize(
    "bad",
    ["", "mlp:64|relu", "mlp:|relu|default", "mlp:64-x|relu|default", "mlp:0|relu|default",
     "mlp:64|swish2|default", "mlp:64|relu|he", "mlp:64|relu|default|extra", 64],
)  # fmt: skip
def test_invalid_architectures_are_refused(space, bad):
    with pytest.raises(InvalidArchError):
        space.canonical(bad)


def test_sample_is_seeded_distinct_and_in_range(space):
    archs = space.sample(50, seed=4)
    assert archs == space.sample(50, seed=4) and len(set(archs)) == 50
    for a in map(parse_mlp, archs):
        assert 1 <= len(a.hidden) <= 4 and set(a.hidden) <= set(WIDTHS)


def test_neighbours_and_mutate_change_one_thing_by_one_step(space):
    arch = "mlp:8-100-512|gelu|xavier_normal"
    nbrs = space.neighbours(arch)
    assert arch not in nbrs and len(set(nbrs)) == len(nbrs)
    assert all(_difference(arch, b) == 1 for b in nbrs)
    widths = {parse_mlp(b).hidden for b in nbrs}
    assert (16, 100, 512) in widths and (8, 64, 512) in widths and (8, 128, 512) in widths
    assert (8, 100, 256) in widths and (8, 100) in widths and (8, 100, 512, 512) in widths
    assert len(nbrs) == (1 + 2 + 1) + 2 + (len(ACTIVATIONS) - 1) + (len(INITS) - 1)
    rng = random.Random(0)
    for _ in range(20):
        assert space.mutate(arch, rng) in nbrs


def test_build_shapes_for_tabular_and_image_inputs(space):
    model = space.build("mlp:16-8|silu|default", num_classes=3, in_features=13)
    assert model(torch.randn(5, 13)).shape == (5, 3)
    image_model = space.build("mlp:16|tanh|default", num_classes=4, in_channels=2, image_size=8)
    assert image_model(torch.randn(5, 2, 8, 8)).shape == (5, 4)
    assert [type(m).__name__ for m in model] == [
        "Flatten", "Linear", "SiLU", "Linear", "SiLU", "Linear"
    ]  # fmt: skip


def test_build_applies_the_architectures_own_init(space):
    torch.manual_seed(0)
    model = space.build("mlp:512-256|relu|kaiming_normal_fan_in", in_features=1000)
    assert model.fc0.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert model.fc1.weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    assert torch.count_nonzero(model.fc0.bias) == 0
    assert space.arch_init("mlp:8|relu|Orthogonal") == "orthogonal"
    torch.manual_seed(0)
    default = space.build("mlp:512|relu|default", in_features=1000)
    bound = 1 / math.sqrt(1000)  # PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert default.fc0.weight.abs().max().item() <= bound and default.fc0.bias.abs().sum() > 0
    torch.manual_seed(0)
    again = space.build("mlp:512|relu|default", in_features=1000)
    assert torch.equal(default.fc0.weight, again.fc0.weight)
