"""MACs/FLOPs/params counting (trainfree.complexity) and the spaces' complexity()."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trainfree.complexity import (
    Complexity,
    count_complexity,
    count_macs,
    count_params,
    meta_complexity,
)
from trainfree.errors import TrainfreeError
from trainfree.spaces import get_space


def _net(affine: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=True),  # 8 x 8 x 8 outputs, 27 MACs each
        nn.BatchNorm2d(8, affine=affine),
        nn.ReLU(),
        nn.Conv2d(8, 8, 5, stride=2, padding=2, groups=8, bias=False),  # depthwise: 8x4x4, 25
        nn.AvgPool2d(2),  # 8 x 2 x 2 outputs
        nn.AdaptiveAvgPool2d(1),  # window 2 x 2, 8 outputs
        nn.Flatten(),
        nn.Linear(8, 5),
    )


CONV_LINEAR = 8 * 8 * 8 * 27 + 8 * 4 * 4 * 25 + 8 * 5


def test_conv_linear_counts_convolutions_and_the_classifier() -> None:
    model = _net()
    assert count_macs(model, torch.zeros(1, 3, 8, 8)) == CONV_LINEAR


def test_thop_adds_batchnorm_and_average_pooling() -> None:
    bn_input = 8 * 8 * 8
    pools = 8 * 2 * 2 + (4 + 1) * 8  # AvgPool2d: one per output; adaptive: (window + 1) each
    inputs = torch.zeros(1, 3, 8, 8)
    assert count_macs(_net(), inputs, convention="thop") == CONV_LINEAR + 4 * bn_input + pools
    plain_bn = count_macs(_net(affine=False), inputs, convention="thop")
    assert plain_bn == CONV_LINEAR + 2 * bn_input + pools


def test_counting_leaves_the_model_as_it_was() -> None:
    model = _net().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_macs(model, torch.randn(1, 3, 8, 8), convention="thop")
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m._forward_hooks for m in model.modules())


def test_complexity_on_meta_equals_the_real_count() -> None:
    real = count_complexity(_net(), (1, 3, 8, 8), convention="thop")
    assert meta_complexity(_net, (1, 3, 8, 8), convention="thop") == real
    assert real.params == count_params(_net()) == 3 * 8 * 9 + 8 + 16 + 8 * 25 + 8 * 5 + 5
    assert real.as_dict() == {"macs": real.macs, "flops": 2 * real.macs, "params": real.params}
    assert Complexity(1, 2) + Complexity(3, 4) == Complexity(4, 6)


def test_unknown_convention_is_one_line() -> None:
    with pytest.raises(TrainfreeError, match="unknown counting convention 'fvcore'"):
        count_macs(_net(), torch.zeros(1, 3, 8, 8), convention="fvcore")


@pytest.mark.parametrize(
    "arch",
    [
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ],
)
def test_flops_proxy_unchanged_on_nb201(arch: str) -> None:
    """The ``flops`` proxy (now via count_macs) equals FlopCounterMode's total, its former
    implementation, on NB201 networks."""
    from trainfree.data.batch import Batch
    from trainfree.proxies.flops import flops

    model = get_space("nb201[C=8,N=1]").build(arch).eval()
    inputs = torch.randn(4, 3, 32, 32)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(inputs[:1])
    batch = Batch(inputs, torch.zeros(4, dtype=torch.long), 10)
    assert flops(model, batch) == float(counter.get_total_flops())


def test_default_space_complexity_builds_and_counts() -> None:
    """SearchSpace.complexity's default (NB201: no override) equals counting a real network."""
    space = get_space("nb201[C=8,N=1]")
    arch = space.sample(1, seed=3)[0]
    got = space.complexity(arch)
    real = count_complexity(space.build(arch), (1, 3, 32, 32))
    assert got == real.as_dict()
    assert space.complexity(arch, image_size=16)["macs"] < got["macs"]
