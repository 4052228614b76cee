"""The mnasnet space (Accel-NASBench's MnasNet/EfficientNet-B0 blocks)."""

from __future__ import annotations

import csv
import itertools
import random

import pytest
import torch

from trainfree.complexity import count_complexity
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.macro import plan_complexity
from trainfree.spaces.mnasnet import LAYERS, parse_arch, plan

SPACE = get_space("mnasnet")
B0 = "e1k3l1se-e6k3l2se-e6k5l2se-e6k3l3se-e6k5l3se-e6k5l4se-e6k3l1se"  # EfficientNet-B0


def test_canonical_round_trip_and_errors() -> None:
    assert SPACE.canonical(f"  {B0}\n") == B0
    assert SPACE.canonical("e4k5l2-e1k3l1-e6k3l3se-e1k5l1-e4k3l2-e6k5l4-e1k3l3") == (
        "e4k5l2-e1k3l1-e6k3l3se-e1k5l1-e4k3l2-e6k5l4-e1k3l3"
    )
    bad = {
        "e1k3l1": "needs 7 blocks",
        B0.replace("e6k3l2se", "e2k3l2se"): "expansion must be one of",
        B0.replace("e6k3l2se", "e6k7l2se"): "kernel one of",
        B0.replace(
            "e6k3l2se", "e6k3l4se"
        ): r"block 2 'e6k3l4se': layers must be one of \(1, 2, 3\)",
        B0.replace("e6k3l2se", "e6k3l2SE"): "must look like e6k3l2",
    }
    for arch, message in bad.items():
        with pytest.raises(InvalidArchError, match=message) as info:
            SPACE.canonical(arch)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidArchError, match="must be a string"):
        SPACE.canonical(None)  # type: ignore[arg-type]


def test_size_counts_every_choice() -> None:
    per_block = [3 * 2 * 2 * len(layers) for layers in LAYERS]
    assert SPACE.size() == 36**6 * 48 == per_block[0] ** 6 * per_block[5]
    first = list(itertools.islice(SPACE.enumerate(), 50))
    assert len(set(first)) == 50 and all(SPACE.canonical(a) == a for a in first)


def test_sample_is_distinct_valid_and_seeded() -> None:
    archs = SPACE.sample(300, seed=4)
    assert len(set(archs)) == 300 and archs == SPACE.sample(300, seed=4)
    assert archs != SPACE.sample(300, seed=5)
    blocks = [parse_arch(a) for a in archs]
    assert {b[5].layers for b in blocks} == {1, 2, 3, 4}
    assert {b[0].layers for b in blocks} == {1, 2, 3}
    assert {b[2].se for b in blocks} == {True, False}


def test_neighbours_differ_in_one_choice_of_one_block() -> None:
    neighbours = SPACE.neighbours(B0)
    assert len(neighbours) == len(set(neighbours)) == 6 * 6 + 7
    for other in neighbours:
        changed = [(a, b) for a, b in zip(parse_arch(B0), parse_arch(other), strict=True) if a != b]
        assert len(changed) == 1
        ((a, b),) = changed
        diffs = sum(getattr(a, f) != getattr(b, f) for f in ("expansion", "kernel", "layers", "se"))
        assert diffs == 1
    rng = random.Random(0)
    assert all(SPACE.mutate(B0, rng) in neighbours for _ in range(20))


def test_thin_network_runs_and_exposes_its_layers_as_blocks() -> None:
    arch = "e6k3l1-e4k5l2se-e1k3l3-e6k5l1se-e4k3l2-e1k5l4se-e6k3l1"
    model = get_space("mnasnet[width_mult=0.25]").build(arch, num_classes=7)
    assert len(model.blocks) == 1 + 2 + 3 + 1 + 2 + 4 + 1
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_efficientnet_b0_counts() -> None:
    """EfficientNet-B0 (SE in every block, 1000 classes): 5,288,548 parameters (torchvision's
    efficientnet_b0) and 0.39 G multiply-adds of convolutions and classifier (Tan & Le, 2019);
    thop's count, the benchmark's, adds BatchNorm and pooling on top."""
    assert SPACE.complexity(B0)["params"] == 5_288_548
    conv_linear = plan_complexity(plan(B0), (1, 3, 224, 224), convention="conv_linear")
    assert round(conv_linear.macs / 1e7) == 39
    assert SPACE.complexity(B0)["macs"] > conv_linear.macs


def test_complexity_equals_counting_the_built_network() -> None:
    arch = SPACE.sample(1, seed=11)[0]
    with torch.device("meta"):
        model = SPACE.build(arch)
    counted = count_complexity(model, (1, 3, 224, 224), convention="thop")
    assert SPACE.complexity(arch) == counted.as_dict()
    assert SPACE.complexity(arch, image_size=96)["macs"] < counted.macs


def test_complexity_matches_accel_nasbench_rows(data_dir) -> None:
    """A handful of rows; benchmarks/macro_check.py checks all 5,138."""
    with open(data_dir / "mnasnet" / "accel_nasbench_imagenet.csv") as f:
        rows = list(csv.DictReader(f))
    for row in random.Random(0).sample(rows, 8):
        got = SPACE.complexity(row["arch"])
        assert got["macs"] == round(float(row["macs_millions"]) * 1e6)
        assert got["params"] == round(float(row["params_millions"]) * 1e6)
        assert got["flops"] == 2 * got["macs"]
