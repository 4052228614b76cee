"""The DARTS space as NAS-Bench-301 scores it: NASLib's compact genotypes, ``none`` edges, and the
network whose parameter count equals NASLib's ``params`` (NAS-Bench-Suite-Zero)."""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path

import pytest
import torch

from trainfree.errors import TrainfreeError
from trainfree.evaluate import load_benchmark
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.darts import (
    DARTS_V2,
    GENOTYPE_OPS,
    NB301_NETWORK,
    count_parameters,
    make_op,
    parse_genotype,
)

NB301 = Path("darts") / "naslib_zc_nasbench301.json"
COMPACT = (  # the first key of NB301
    "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
    "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"
)


@pytest.fixture(scope="module")
def space():
    """The variant NAS-Bench-Suite-Zero scored NB301's genotypes on."""
    return get_space(NB301_NETWORK)


@pytest.fixture(scope="module")
def nb301(data_dir: Path) -> dict[str, dict]:
    return json.loads((data_dir / NB301).read_text())["cifar10"]


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _naslib_genotype(key: str) -> str:
    """NASLib's ``convert_compact_to_genotype``, spelled out: (input, op index) -> (op, input)."""
    cells = [[(GENOTYPE_OPS[op], src) for src, op in cell] for cell in ast.literal_eval(key)]
    return (
        f"Genotype(normal={cells[0]}, normal_concat=[2, 3, 4, 5], "
        f"reduce={cells[1]}, reduce_concat=[2, 3, 4, 5])"
    )


def test_params_equal_naslib_on_a_handful(space, nb301):
    """NASLib's ``params`` is tensorwatch's count in millions with 6 decimals: exact counts."""
    keys = list(nb301)
    for key in random.Random(0).sample(keys, 6):
        expected = round(nb301[key]["params"]["score"] * 1e6)
        assert _n_params(space.build(space.from_naslib(key))) == expected, key


def test_naslib_key_reads_as_naslib_converts_it(space, nb301):
    for key in list(nb301)[:20]:
        arch = space.from_naslib(key)
        assert arch == space.canonical(key) == space.canonical(_naslib_genotype(key))
        assert space.from_naslib(ast.literal_eval(key)) == arch  # the nested pairs themselves
        assert nb301[key]["arch"] == key  # the json's own field spells the key again


def test_compact_round_trip(space):
    for arch in [space.canonical(DARTS_V2), *space.sample(30, seed=5)]:
        compact = space.to_naslib(arch)
        assert compact.startswith("[[(")
        assert space.from_naslib(compact) == arch == space.canonical(compact)
    # node 2 of the normal cell: (input 0, max_pool_3x3), (input 1, dil_conv_3x3)
    assert space.canonical(COMPACT).startswith(
        "Genotype(normal=[('max_pool_3x3', 0), ('dil_conv_3x3', 1), "
    )
    # a node's two pairs in either order are the same cell
    normal, reduce = ast.literal_eval(COMPACT)
    swapped = [normal[2 * i + 1 - j] for i in range(4) for j in range(2)]
    assert swapped != normal and space.from_naslib([swapped, reduce]) == space.canonical(COMPACT)


def test_benchmark_table_reads_nb301(space, nb301, data_dir):
    table = load_benchmark(data_dir / NB301, space)
    assert len(table) == len(nb301) == 725
    assert {"cifar10/val_accuracy", "cifar10/params", "cifar10/synflow"} <= set(table.targets())
    key = next(iter(nb301))
    expected = nb301[key]["val_accuracy"]
    assert table.lookup(key, "cifar10/val_accuracy") == pytest.approx(expected)
    genotype = _naslib_genotype(key)
    assert table.lookup(genotype, "cifar10/val_accuracy") == pytest.approx(expected)


def _with_none(arch: str, replace: str) -> str:
    """``arch`` with every ``replace`` op turned into ``none``."""
    return arch.replace(f"('{replace}', ", "('none', ")


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
def test_none_op_has_the_shape_of_the_other_ops(stride, size):
    x = torch.randn(2, 6, size, size)
    zeros = make_op("none", 6, stride)(x)
    assert zeros.shape == make_op("sep_conv_3x3", 6, stride)(x).shape
    assert not zeros.any()


def test_none_edges_build_and_run(space):
    # DARTS V2 with its max-pools (all in the reduction cell, on inputs 0 and 1: stride-2 edges)
    # and its normal cell's skips replaced by `none`; node 2 of the reduction cell sums two
    # `none` edges
    arch = _with_none(_with_none(DARTS_V2, "max_pool_3x3"), "skip_connect")
    genotype = parse_genotype(arch)
    assert genotype.reduce[:2] == (("none", 0), ("none", 1))
    assert space.canonical(space.canonical(arch)) == space.canonical(arch)
    net = space.build(arch, C=4, layers=5, num_classes=3).eval()
    for size in (16, 15):
        out = net(torch.randn(2, 3, size, size))
        assert out.shape == (2, 3) and torch.isfinite(out).all()
    # a `none` edge holds no parameters; the search-model pools hold none either
    pools = arch.replace("('none', ", "('avg_pool_3x3', ")
    assert _n_params(net) == _n_params(space.build(pools, C=4, layers=5, num_classes=3))
    with pytest.raises(InvalidArchError, match="no 'none' op"):
        space.to_naslib(arch)


def test_size_keywords(space, nb301):
    arch = space.canonical(DARTS_V2)
    nb301_net = _n_params(space.build(arch))
    assert space.name == "darts[C=32,affine=false,layers=8,pool_bn=true]"
    assert _n_params(space.build(arch, C=16)) < nb301_net
    assert _n_params(space.build(arch, affine=True)) > nb301_net
    # the space's default: DARTS's evaluation network, 3.3M parameters for DARTS V2 (its training
    # log: 3.349342 MB), as the space always built it
    assert count_parameters(get_space("darts").build(arch)) == 3_349_342
    darts_eval = get_space("darts[C=36,layers=20,affine=true,pool_bn=false]")
    assert count_parameters(darts_eval.build(arch)) == 3_349_342


def test_depth_keeps_the_first_cells():
    """TE-NAS's thin linear-region network: one cell, no stem, one input channel."""
    space = get_space("darts")
    thin = space.build(DARTS_V2, C=1, N=1, depth=1, stem=False, in_channels=1)
    assert len(thin.cells) == 1 and thin(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    cut = space.build(DARTS_V2, C=4, layers=5, depth=3, auxiliary=True)
    assert len(cut.cells) == 3 and cut.auxiliary_head is None  # the head sits on cell 3
    assert cut(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    with pytest.raises(TrainfreeError, match="depth"):
        space.build(DARTS_V2, C=4, layers=5, depth=6)


@pytest.mark.parametrize(
    "bad",
    [
        "[[",
        "[]",
        "[[], []]",
        COMPACT.replace("(3, 6)]]", "(3, 6)], []]"),  # three cells
        COMPACT.replace(", (3, 2)]", "]"),  # 7 pairs in the normal cell
        COMPACT.replace("(3, 2)", "(3, 7)"),  # op index out of range
        COMPACT.replace("(3, 2)", "(3, -1)"),
        COMPACT.replace("(3, 2)", "(3, True)"),
        COMPACT.replace("(3, 2)", "(5, 2)"),  # node 5 <- itself
        COMPACT.replace("(3, 2)", "(1, 2)"),  # node 5 takes input 1 twice
        COMPACT.replace("(3, 2)", "(3, 'sep_conv_3x3')"),
        COMPACT.replace("(3, 2)", "(3, 2, 1)"),
        COMPACT + "; import os",
        "[[(0, __import__('os'))]]",
        DARTS_V2.replace("('dil_conv_3x3', 2)", "('zero', 2)"),
        "sep_conv_3x3",
    ],
)
def test_malformed_inputs_raise_one_line(space, bad):
    with pytest.raises(InvalidArchError) as info:
        space.canonical(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidArchError):
        space.from_naslib(bad)
