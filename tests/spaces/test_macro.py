"""Shared pieces of the macro spaces: plans, piece-wise counting, InTrain's blocks."""

from __future__ import annotations

import math

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
    """A size keyword neither of the space nor of the cell spaces names the space's sizes."""
    with pytest.raises(TrainfreeError, match=r"'nb_macro' has no build keyword 'W' \(sizes: "):
        get_space("nb_macro").build("02012100", W=1)


FULL = {
    "mnasnet": "e1k3l1se-e6k5l2-e4k3l3se-e6k5l3-e1k3l2se-e6k3l4se-e4k5l1",
    "nb_macro": "02012100",
    "channel_macro[family=mobilenet]": "4132413",
    "channel_macro[family=resnet]": "1432141",
}


def _structure(model: torch.nn.Module) -> list[tuple]:
    """What a width change must not alter: module types, strides, shortcuts, expansions."""
    return [
        (type(m).__name__, getattr(m, "stride", None), getattr(m, "shortcut", None),
         getattr(m, "residual", None), getattr(m, "groups", 1) > 1)
        for m in model.modules()
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(FULL))
def test_cell_space_sizes_make_a_thin_copy(name: str) -> None:
    """TE-NAS's ``C`` scales every width by C/16 with the same topology; N/depth/stem are
    ignored; in_channels feeds the stem."""
    space = get_space(name)
    with torch.device("meta"):
        full = space.build(FULL[name])
        thin = space.build(FULL[name], C=1, N=1, depth=1, stem=False, in_channels=1)
        ntk = space.build(FULL[name], C=3, N=1)
    assert _structure(thin) == _structure(full) == _structure(ntk)
    assert thin.stem.conv.in_channels == 1 and ntk.stem.conv.in_channels == 3
    widths = [(f.out_channels, t.out_channels, n.out_channels) for f, t, n in zip(
        *(m.modules() for m in (full, thin, ntk)), strict=True
    ) if isinstance(f, torch.nn.Conv2d)]  # fmt: skip
    assert all(t == max(1, round(f / 16)) and n == max(1, round(3 * f / 16)) for f, t, n in widths)
    with pytest.raises(TrainfreeError, match="C must be positive"):
        space.build(FULL[name], C=0)


@pytest.mark.parametrize("proxy", ["tenas_ntk", "tenas_lr"])
@pytest.mark.parametrize("name", sorted(FULL))
def test_tenas_proxies_run_on_block_networks(name: str, proxy: str) -> None:
    """Both TE-NAS indicators score every macro space (synthetic 16x16 images, batch 8, one
    repeat); the linear regions are counted on 3x3 one-channel crops of the thin copy."""
    from trainfree.run.scoring import ScoreConfig, score_arch

    config = ScoreConfig(dataset="synthetic", batch_size=8, image_size=16, repeats=1,
                         num_classes=10)  # fmt: skip
    value = score_arch(get_space(name), FULL[name], proxy, config).value
    assert math.isfinite(value) and value >= (2 if proxy == "tenas_lr" else 1)
