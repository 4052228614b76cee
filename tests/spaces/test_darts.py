"""The DARTS space: genotype strings, sampling/mutation, evaluation network and supernet."""

from __future__ import annotations

import random

import pytest
import torch

from trainfree.errors import TrainfreeError
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.darts import (
    DARTS_V1,
    DARTS_V2,
    EDGE_GROUPS,
    PRIMITIVES,
    FactorizedReduce,
    build_darts_supernet,
    count_parameters,
    discretise,
    parse_genotype,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def space():
    return get_space("darts")


def _pairs(arch: str) -> list[tuple[str, int, str, int]]:
    """(cell type, node, op, input) for every pair of ``arch``."""
    g = parse_genotype(arch)
    cells = (("normal", g.normal), ("reduce", g.reduce))
    return [(name, i // 2, *p) for name, cell in cells for i, p in enumerate(cell)]


def test_roundtrip_and_canonical_form(space):
    for arch in [DARTS_V1, DARTS_V2, *space.sample(20, seed=3)]:
        canon = space.canonical(arch)
        assert space.canonical(canon) == canon
        assert str(parse_genotype(canon)) == canon
        assert canon.startswith("Genotype(normal=[('") and "normal_concat=[2, 3, 4, 5]" in canon
    # DARTS's search code prints range(2, 6); a node's two pairs may come in either order
    alt = DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)").replace(
        "('sep_conv_3x3', 1), ('skip_connect', 0)", "('skip_connect', 0), ('sep_conv_3x3', 1)"
    )
    assert alt != DARTS_V2 and space.canonical(alt) == space.canonical(DARTS_V2)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Genotype(normal=[])",
        DARTS_V2.replace("('sep_conv_3x3', 0), ", "", 1),  # 7 pairs in the normal cell
        DARTS_V2.replace("('dil_conv_3x3', 2)", "('conv_7x7', 2)"),
        DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),  # node 5 <- itself
        DARTS_V2.replace(
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1)", "('sep_conv_3x3', 0), ('skip_connect', 0)"
        ),
        DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"),
        DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', True)"),
        DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', __import__('os'))"),
        DARTS_V2 + "; import os",
    ],
)
def test_malformed_genotypes_raise(space, bad):
    with pytest.raises(InvalidArchError):
        space.canonical(bad)


def test_sample_is_valid_distinct_and_seeded(space):
    archs = space.sample(50, seed=7)
    assert len(set(archs)) == 50
    assert archs == space.sample(50, seed=7) and archs != space.sample(50, seed=8)
    ops = {op for arch in archs for _, _, op, _ in _pairs(arch)}
    assert "none" not in ops and ops == set(PRIMITIVES[1:])
    # every valid input of node 5 (0..4) appears somewhere
    assert {src for arch in archs for _, node, _, src in _pairs(arch) if node == 3} == {
        0,
        1,
        2,
        3,
        4,
    }


def test_neighbours_differ_in_one_slot(space):
    arch = space.canonical(DARTS_V2)
    neighbours = space.neighbours(arch)
    # per cell: each of 8 slots has 6 other ops, plus (node_inputs - 2) other inputs
    assert len(neighbours) == len(set(neighbours)) == 2 * (8 * 6 + 2 * (0 + 1 + 2 + 3))
    for other in neighbours:
        diff = set(_pairs(other)) ^ set(_pairs(arch))
        assert len(diff) == 2  # one (op, input) pair of one node replaced by another
    rng = random.Random(0)
    assert all(space.mutate(arch, rng) in neighbours for _ in range(20))


def test_darts_v2_parameter_count(space):
    """DARTS reports 3.3M parameters (C=36, 20 cells, CIFAR-10, auxiliary head excluded); its
    training log prints 3.349342 MB."""
    model = space.build(DARTS_V2)
    n = count_parameters(model)
    assert round(n / 1e6, 1) == 3.3
    assert n == 3_349_342


def test_tiny_network_forward_and_aux(space):
    arch = space.sample(1, seed=0)[0]
    model = space.build(arch, C=4, layers=5, num_classes=7, auxiliary=True).train()
    x = torch.randn(2, 3, 32, 32)
    logits, aux = model.forward_aux(x)
    assert logits.shape == aux.shape == (2, 7)
    assert torch.equal(model.eval()(x), model.forward_aux(x)[0])
    assert model.eval().forward_aux(x)[1] is None
    thin = space.build(arch, C=1, N=1, stem=False, in_channels=1)  # TE-NAS-style thin copy
    assert thin(torch.randn(5, 1, 3, 3)).shape == (5, 10)
    with pytest.raises(TrainfreeError):
        space.build(arch, layers=4, N=1)


def test_factorized_reduce_matches_darts_on_even_sizes():
    torch.manual_seed(0)
    fr = FactorizedReduce(3, 4).eval()
    x = torch.randn(2, 3, 8, 8)
    r = torch.relu(x)
    expected = fr.bn(torch.cat([fr.convs[0](r), fr.convs[1](r[:, :, 1:, 1:])], dim=1))
    assert torch.allclose(fr(x), expected)
    assert FactorizedReduce(2, 1)(torch.randn(2, 2, 3, 3)).shape == (2, 1, 2, 2)


def test_supernet_size_and_discretisation():
    torch.manual_seed(0)
    net = build_darts_supernet()  # DARTS's search model: C=16, 8 cells
    # FreeDARTS's notebook logs "param size = 1.930618MB" (DARTS counts no alphas)
    assert count_parameters(net, exclude="alphas") == 1_930_618
    g = parse_genotype(net.genotype())
    assert len(g.normal) == len(g.reduce) == 8


def _scores_for(arch: str) -> list[torch.Tensor]:
    """(14, 8) score tables that single out the pairs of ``arch``."""
    g = parse_genotype(arch)
    tables = []
    for cell in (g.normal, g.reduce):
        table = torch.rand(14, 8) * 0.1
        for slot, (op, src) in enumerate(cell):
            table[EDGE_GROUPS[slot // 2][src], PRIMITIVES.index(op)] = 1.0 + slot
        table[:, 0] = 5.0  # `none` never wins
        tables.append(table)
    return tables


def test_discretise_recovers_genotype_and_respects_masks(space):
    for arch in [DARTS_V2, *space.sample(5, seed=1)]:
        assert discretise(_scores_for(arch)) == space.canonical(arch)
    torch.manual_seed(0)
    net = build_darts_supernet(C=2, layers=2, stem_multiplier=1)
    target = space.sample(1, seed=4)[0]
    for mask, table in zip(net.cell_masks, _scores_for(target), strict=True):
        mask.copy_(table == table[:, 1:].max(dim=1, keepdim=True).values)
        mask[:, 0] = False
        for group in EDGE_GROUPS:  # keep the two chosen edges per node
            keep = sorted(group, key=lambda e: -table[e, 1:].max().item())[:2]
            for e in set(group) - set(keep):
                mask[e] = False
    assert net.genotype() == space.canonical(target)
    weights = net.mixing()
    assert all(
        torch.equal(w[~m], torch.zeros_like(w[~m]))
        for w, m in zip(weights, net.cell_masks, strict=True)
    )
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    net.mask_normal[EDGE_GROUPS[1]] = False
    with pytest.raises(TrainfreeError, match="no active input edge"):
        net(torch.randn(2, 3, 8, 8))
