"""The channel_macro space (Channel-Bench-Macro, MobileNet and ResNet families)."""

from __future__ import annotations

import random

import pytest
import torch

from trainfree.errors import TrainfreeError
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.macro import BasicBlock, InvertedResidualBlock

#: (code, params, flops) from github.com/xiusu/Channel-Bench-Macro, Results_MobileNet.json and
#: Results_ResNet.json at commit 4ff596e814cc88cc9add77ff83fc1a2f05ee1fef (its "flops" are
#: multiply-accumulates: this library's macs). benchmarks/macro_check.py checks all 2 x 16,384.
REFERENCE = {
    "mobilenet": [
        ("1111111", 125418, 14285312),
        ("4444444", 1804170, 211281920),
        ("1234321", 614890, 56797696),
        ("4132413", 771722, 97476096),
        ("4432214", 716234, 122923008),
    ],
    "resnet": [
        ("1111111", 963658, 90096896),
        ("4444444", 15356170, 1436226560),
        ("1234321", 5097930, 396807936),
        ("4132413", 7686410, 719000576),
        ("4432214", 6208394, 794495488),
    ],
}


def test_codes_parse_sample_and_mutate() -> None:
    space = get_space("channel_macro")
    assert space.canonical("1234321 ") == "1234321"
    for bad in ("0234321", "123432", "12343215", "5555555"):
        with pytest.raises(InvalidArchError, match="7 digits in 1-4"):
            space.canonical(bad)
    assert space.size() == 4**7 == len(set(space.enumerate()))
    assert len(set(space.sample(4**7, seed=0))) == 4**7
    neighbours = space.neighbours("1234321")
    assert len(set(neighbours)) == 21 and space.mutate("1234321", random.Random(1)) in neighbours
    assert get_space("channel_macro[family=resnet]").sample(9, seed=3) == space.sample(9, seed=3)


@pytest.mark.parametrize("family", ["mobilenet", "resnet"])
def test_complexity_matches_the_repository(family: str) -> None:
    space = get_space(f"channel_macro[family={family}]")
    for code, params, macs in REFERENCE[family]:
        got = space.complexity(code)
        assert (got["params"], got["macs"], got["flops"]) == (params, macs, 2 * macs)


@pytest.mark.parametrize(
    ("family", "block"), [("mobilenet", InvertedResidualBlock), ("resnet", BasicBlock)]
)
def test_families_build_their_own_blocks(family: str, block: type) -> None:
    model = get_space(f"channel_macro[family={family},width_mult=0.0625]").build("4132413")
    assert all(isinstance(b, block) for b in model.blocks)
    assert len(model.blocks) == (4 if family == "mobilenet" else 5)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_unknown_family_is_one_line() -> None:
    with pytest.raises(TrainfreeError, match="family must be one of mobilenet, resnet"):
        get_space("channel_macro[family=vgg]").build("1111111")
