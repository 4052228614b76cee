"""Shared pieces of the macro spaces: plans, piece-wise counting, InTrain's blocks."""

from __future__ import annotations

import pytest
import torch

from trainfree.complexity import count_complexity
from trainfree.errors import TrainfreeError
from trainfree.spaces import get_space
from trainfree.spaces.macro import HardSigmoid, make_divisible

THIN = {
    "mnasnet[width_mult=0.25]": "e6k3l1-e4k5l2se-e1k3l3-e6k5l1se-e4k3l2-e1k5l4se-e6k3l1",
    "nb_macro[head_channels=32,init_channels=4]": "02012100",
    "channel_macro[family=mobilenet,width_mult=0.0625]": "4132413",
    "channel_macro[family=resnet,width_mult=0.0625]": "4132413",
}


def test_make_divisible_is_efficientnets_rounding() -> None:
    assert [make_divisible(v) for v in (16, 20, 8 * 0.25, 40 * 0.25, 1280 * 0.5)] == [
        16, 24, 8, 16, 640,
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(THIN))
def test_piecewise_count_equals_the_whole_network(name: str) -> None:
    """complexity() sums memoised per-piece counts; a variant without known sizes reads the
    plan of its (meta) network: both equal counting the whole built network."""
    space = get_space(name)
    model = space.build(THIN[name], num_classes=space.default_num_classes)
    whole = count_complexity(model, (1, 3, 40, 40), convention=space.complexity_convention)
    assert space.complexity(THIN[name], image_size=40) == whole.as_dict()


@pytest.mark.parametrize("name", sorted(THIN))
def test_intrain_blocks_are_the_searchable_layers(name: str) -> None:
    from trainfree.proxies.intrain import block_names

    model = get_space(name).build(THIN[name])
    assert block_names(model) == {f"blocks.{i}" for i in range(len(model.blocks))}


def test_build_uses_pytorch_default_init() -> None:
    torch.manual_seed(0)
    a = get_space("nb_macro[head_channels=32,init_channels=4]").build("11111111")
    torch.manual_seed(0)
    b = get_space("nb_macro[head_channels=32,init_channels=4]").build("11111111")
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    bn = a.stem.bn
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))


def test_hard_sigmoid_gate_is_twice_differentiable() -> None:
    """The SE gate equals nn.Hardsigmoid and, unlike it, has a differentiable backward
    (GraSP's Hessian-gradient product)."""
    x = torch.linspace(-5, 5, 1001, requires_grad=True)
    assert torch.equal(HardSigmoid()(x), torch.nn.Hardsigmoid()(x))
    (grad,) = torch.autograd.grad(HardSigmoid()(2 * x).sum(), x, create_graph=True)
    (again,) = torch.autograd.grad((grad * x).sum(), x)
    assert torch.isfinite(again).all()


def test_unknown_build_keyword_is_one_line() -> None:
    """TE-NAS asks cell spaces for C/N; a macro space names its own sizes instead."""
    with pytest.raises(TrainfreeError, match=r"'nb_macro' has no build keyword 'C' \(sizes: "):
        get_space("nb_macro").build("02012100", C=1)
