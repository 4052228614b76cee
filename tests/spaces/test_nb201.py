"""NAS-Bench-201 space: strings, official and NASLib numberings, networks and the supernet."""

from __future__ import annotations

import csv
import itertools
import json
import random
import re
from pathlib import Path

import pytest
import torch
from scipy.stats import spearmanr

from trainfree.errors import TrainfreeError
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.nb201 import (
    EDGES,
    OPS,
    NB201Space,
    build_network,
    build_supernet,
    format_arch,
    mixing_weights,
)

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"  # noqa: E501
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
MIXED = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|"  # noqa: E501


@pytest.fixture(scope="module")
def space() -> NB201Space:
    space = get_space("nb201")
    assert isinstance(space, NB201Space)
    return space


@pytest.fixture(scope="module")
def csv_rows(data_dir: Path) -> list[dict[str, str]]:
    with open(data_dir / "nb201" / "nb201_accuracy.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def naslib(data_dir: Path) -> dict[str, dict[str, dict]]:
    return json.loads((data_dir / "nb201" / "naslib_zc_nasbench201.json").read_text())


def _differing_edges(space: NB201Space, a: str, b: str) -> int:
    return sum(x != y for x, y in zip(space.parse(a), space.parse(b), strict=True))


# ----------------------------------------------------------------------------- strings


def test_parse_format_roundtrip(space: NB201Space) -> None:
    for ops in [(0,) * 6, (4, 3, 2, 1, 0, 4), (3,) * 6]:
        arch = format_arch(ops)
        assert space.parse(arch) == ops
        assert space.canonical(arch) == arch
    assert format_arch(["nor_conv_3x3"] * 6) == ALL_CONV3


def test_canonical_normalises_whitespace_and_edge_order(space: NB201Space) -> None:
    shuffled = "  |avg_pool_3x3~0|+|skip_connect~1|nor_conv_1x1~0|+|nor_conv_3x3~2|nor_conv_1x1~0|skip_connect~1| "  # noqa: E501
    assert space.canonical(shuffled) == MIXED


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("|none~0|+|none~0|none~1|", "expected 3 nodes"),
        ("|conv9~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv9'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "bad input index '1'"),
        ("|none~0|+|none~0|none~x|+|none~0|none~1|none~2|", "bad input index 'x'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|", "must have 3 input edge"),
        ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "takes input 0 twice"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "expected op~input"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "must be written"),
        ("", "expected 3 nodes"),
    ],
)
def test_malformed_strings_raise(space: NB201Space, arch: str, message: str) -> None:
    with pytest.raises(InvalidArchError, match=re.escape(message)):
        space.canonical(arch)


def test_non_string_raises(space: NB201Space) -> None:
    with pytest.raises(InvalidArchError, match="must be a string"):
        space.canonical(123)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- official index


def test_official_index_is_a_bijection(space: NB201Space) -> None:
    archs = list(space.enumerate())
    assert len(archs) == space.size() == 15625
    assert {space.parse(a) for a in archs} == set(itertools.product(range(5), repeat=6))
    assert all(space.index_of(a) == i for i, a in enumerate(archs))
    assert all(space.arch_at(i) == a for i, a in enumerate(archs))


def test_official_index_matches_the_benchmark_csv(
    space: NB201Space, csv_rows: list[dict[str, str]]
) -> None:
    assert len(csv_rows) == 15625
    for row in csv_rows:
        assert space.arch_at(int(row["index"])) == row["arch"]
        assert space.index_of(row["arch"]) == int(row["index"])


@pytest.mark.parametrize("index", [-1, 15625, 1.0, True])
def test_bad_index_raises(space: NB201Space, index: object) -> None:
    with pytest.raises(InvalidArchError):
        space.arch_at(index)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- NASLib


def test_naslib_example_from_the_readme(space: NB201Space) -> None:
    # tuple t is |t0~0|+|t1~0|t3~1|+|t2~0|t4~1|t5~2| with codes skip, none, 3x3, 1x1, pool
    arch = "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|skip_connect~2|"
    assert space.from_naslib((0, 1, 2, 3, 4, 0)) == arch
    assert space.from_naslib("(0, 1, 2, 3, 4, 0)") == arch
    assert space.to_naslib(arch) == (0, 1, 2, 3, 4, 0)


@pytest.mark.parametrize("key", ["(0, 1, 2)", "(0, 1, 2, 3, 4, 5)", "0,1,2,3,4,0", (0, 1, 2, 3, 4)])
def test_bad_naslib_keys_raise(space: NB201Space, key: object) -> None:
    with pytest.raises(InvalidArchError):
        space.from_naslib(key)  # type: ignore[arg-type]


def test_naslib_join_hits_the_csv(
    space: NB201Space, naslib: dict, csv_rows: list[dict[str, str]]
) -> None:
    test_acc = {row["arch"]: float(row["cifar10_test_200ep"]) for row in csv_rows}
    for dataset in ("cifar10", "cifar100"):
        for key in naslib[dataset]:
            arch = space.from_naslib(key)
            assert arch in test_acc
            assert space.to_naslib(arch) == tuple(int(c) for c in key.strip("()").split(","))
    entries = naslib["cifar10"]
    rho = spearmanr(
        [entries[k]["val_accuracy"] for k in entries],
        [test_acc[space.from_naslib(k)] for k in entries],
    ).statistic
    assert rho > 0.7  # the README: about 0.8-0.9 joined correctly, near 0 otherwise


# ----------------------------------------------------------------------------- parameters


def _num_params(arch: str, num_classes: int) -> int:
    with torch.device("meta"):  # shapes only: no initialisation cost
        net = build_network(arch, num_classes=num_classes)
    return sum(p.numel() for p in net.parameters())


def test_benchmark_parameter_count() -> None:
    assert _num_params(ALL_CONV3, 10) == 1_531_546


def test_parameters_match_naslib_for_every_entry(space: NB201Space, naslib: dict) -> None:
    """NASLib's ``params`` (millions, 6 decimals) for every entry of both datasets. Parameters
    live only in conv edges, so one network is built per (#1x1, #3x3) class and compared with
    every entry of that class."""
    for dataset, num_classes in (("cifar10", 10), ("cifar100", 100)):
        by_class: dict[tuple[int, int], int] = {}
        for key, entry in naslib[dataset].items():
            arch = space.from_naslib(key)
            ops = space.parse(arch)
            cls = (ops.count(OPS.index("nor_conv_1x1")), ops.count(OPS.index("nor_conv_3x3")))
            if cls not in by_class:
                by_class[cls] = _num_params(arch, num_classes)
            assert round(by_class[cls] / 1e6, 6) == entry["params"]["score"], (dataset, key)


# ----------------------------------------------------------------------------- networks


@pytest.mark.parametrize(("batch", "size"), [(2, 4), (1, 5), (1, 8), (3, 32)])
def test_forward_shapes_in_train_mode(space: NB201Space, batch: int, size: int) -> None:
    torch.manual_seed(0)
    net = space.build(MIXED, C=4, N=1, num_classes=7).train()
    out = net(torch.randn(batch, 3, size, size))
    assert out.shape == (batch, 7)
    assert torch.isfinite(out).all()


def test_network_structure(space: NB201Space) -> None:
    net = space.build(MIXED, C=4, N=2, in_channels=5)
    assert net.stem[0].in_channels == 5
    kinds = [type(c).__name__ for c in net.cells]
    assert (
        kinds
        == ["Cell"] * 2 + ["ResNetBasicblock"] + ["Cell"] * 2 + ["ResNetBasicblock"] + ["Cell"] * 2
    )
    assert net.classifier.in_features == 16
    edge_types = [type(e).__name__ for e in net.cells[0].edges]
    assert edge_types == [
        "AvgPool2d",
        "ReLUConvBN",
        "Identity",
        "ReLUConvBN",
        "Identity",
        "ReLUConvBN",
    ]
    assert all(
        bn.affine and bn.track_running_stats
        for bn in net.modules()
        if isinstance(bn, torch.nn.BatchNorm2d)
    )


def test_cell_sums_its_edges(space: NB201Space) -> None:
    """skip on (0,1), (1,3) and (0,3), none elsewhere: output = x + x = 2x."""
    arch = "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|"
    cell = space.build(arch, C=2, N=1).cells[0]
    x = torch.randn(2, 2, 5, 5)
    torch.testing.assert_close(cell(x), 2 * x)


def test_all_none_network_ignores_its_input(space: NB201Space) -> None:
    torch.manual_seed(0)
    net = space.build(ALL_NONE, C=4, N=1).train()
    a, b = net(torch.randn(2, 3, 8, 8)), net(100 * torch.randn(2, 3, 8, 8))
    torch.testing.assert_close(a, b)
    live = space.build(MIXED, C=4, N=1).train()
    assert not torch.allclose(live(torch.randn(2, 3, 8, 8)), live(torch.randn(2, 3, 8, 8)))


def test_thin_network_without_stem(space: NB201Space) -> None:
    net = space.build(MIXED, C=1, N=1, in_channels=1, stem=False, depth=1)
    assert len(net.cells) == 1 and isinstance(net.stem, torch.nn.Identity)
    assert net(torch.randn(6, 1, 3, 3)).shape == (6, 10)
    with pytest.raises(TrainfreeError, match="in_channels"):
        space.build(MIXED, C=2, N=1, in_channels=3, stem=False)
    with pytest.raises(TrainfreeError, match="positive"):
        space.build(MIXED, C=0)


# ----------------------------------------------------------------------------- sampling, moves


def test_sample_is_seeded_uniform_without_replacement(space: NB201Space) -> None:
    a = space.sample(50, seed=3)
    assert a == space.sample(50, seed=3)
    assert a != space.sample(50, seed=4)
    assert len(set(a)) == 50 and all(space.canonical(x) == x for x in a)
    assert sorted(space.sample(15625, seed=1)) == sorted(space.enumerate())
    assert space.sample(0) == []
    for bad in (-1, 15626):
        with pytest.raises(TrainfreeError):
            space.sample(bad)


def test_mutate_changes_exactly_one_edge(space: NB201Space) -> None:
    rng = random.Random(0)
    arch = MIXED
    for _ in range(50):
        child = space.mutate(arch, rng)
        assert _differing_edges(space, arch, child) == 1
        arch = child


def test_neighbours(space: NB201Space) -> None:
    near = space.neighbours(MIXED)
    assert len(near) == len(set(near)) == 24
    assert all(_differing_edges(space, MIXED, n) == 1 for n in near)


# ----------------------------------------------------------------------------- supernet


def test_mixing_weights() -> None:
    alphas = torch.randn(6, 5)
    mask = torch.rand(6, 5) > 0.4
    mask[0] = False
    w = mixing_weights(alphas, mask, "softmax")
    assert (w[~mask] == 0).all()
    torch.testing.assert_close(w[1:].sum(dim=1), mask[1:].any(dim=1).float())
    torch.testing.assert_close(mixing_weights(alphas, mask, "alphas"), alphas * mask)
    with pytest.raises(TrainfreeError, match="weights mode"):
        mixing_weights(alphas, mask, "sigmoid")


def test_supernet_forward_genotype_and_mask() -> None:
    torch.manual_seed(0)
    net = build_supernet(C=4, N=1).train()
    assert net.alphas.shape == net.mask.shape == (len(EDGES), len(OPS))
    x = torch.randn(2, 3, 8, 8)
    out = net(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert net.alphas.grad is not None and net.alphas.grad.abs().sum() > 0
    with torch.no_grad():
        net.alphas.copy_(torch.eye(5)[[4, 2, 1, 2, 1, 3]])
        assert net.genotype() == MIXED
        net.mask[0, 4] = False
        net.mask[5] = False
        assert net.genotype().startswith("|none~0|") and net.genotype().endswith("|none~2|")
        assert not torch.allclose(net(x), out)


def test_supernet_with_one_op_per_edge_is_the_discrete_network(space: NB201Space) -> None:
    torch.manual_seed(0)
    sup = build_supernet(C=4, N=1, affine=True).train()
    net = space.build(MIXED, C=4, N=1).train()
    ops = space.parse(MIXED)
    with torch.no_grad():
        sup.mask.zero_()
        sup.mask[range(len(EDGES)), list(ops)] = True
    state = {}
    for key, value in sup.state_dict().items():
        match = re.fullmatch(r"(cells\.\d+\.edges\.(\d+))\.ops\.(\d+)(\..*)?", key)
        if match is None:
            if key not in ("alphas", "mask"):
                state[key] = value
        elif int(match[3]) == ops[int(match[2])]:
            state[match[1] + (match[4] or "")] = value
    net.load_state_dict(state)  # strict: every discrete parameter comes from the supernet
    x = torch.randn(3, 3, 8, 8)
    torch.testing.assert_close(sup(x), net(x))
