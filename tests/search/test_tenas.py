"""TE-NAS pruning (``search/tenas.py``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from search_archs import nb201_ops

from trainfree.errors import TrainfreeError
from trainfree.search import run_search
from trainfree.search import tenas as tenas_module
from trainfree.search.supernet import pruning_space, single_choice
from trainfree.search.tenas import (
    DEFAULTS,
    _Indicators,
    _op_candidates,
    _prune_edges,
    _prune_ops,
    dense_rank,
    prune_order,
    significant,
)
from trainfree.spaces import get_space
from trainfree.spaces.darts import EDGE_GROUPS, parse_genotype

TINY_TENAS = {
    "dataset": "synthetic",
    "image_size": 8,
    "batch_size": 4,
    "repeats": 1,
    "lr_samples": 30,
    "lr_batches": 1,
}


def _indicators(
    space: str,
    seed: int = 0,
    init: str | None = None,
    draws: str = "candidate",
    augment: bool = False,
    channels_last: bool = False,
) -> _Indicators:
    return _Indicators(
        pruning_space(space),
        dataset="synthetic",
        data_dir=None,
        batch_size=4,
        num_classes=None,
        image_size=8,
        repeat=2,
        precision=3,
        lr_samples=10,
        lr_batches=1,
        lr_images=10,
        ntk_supernet=DEFAULTS[space].ntk_supernet,
        lr_supernet=DEFAULTS[space].lr_supernet,
        inits=(init or "kaiming_normal_fan_out", init or "kaiming_normal_fan_in"),
        draws=draws,
        augment=augment,
        seed=seed,
        device="cpu",
        channels_last=channels_last,
    )


def test_dense_rank_and_prune_order():
    ranks, order = dense_rank([0.3, 0.1, 0.3, 0.2], descending=True)
    assert ranks.tolist() == [0, 2, 0, 1] and order == [0, 2, 3, 1]
    # 0.1234 and 0.1231 share 3 significant figures: kept in candidate order, but not tied
    ranks, order = dense_rank([0.1234, 0.5, 0.1231], descending=False)
    assert order == [0, 2, 1] and ranks.tolist() == [0, 2, 1]
    assert significant(0.012345, 3) == pytest.approx(0.0123) and significant(-2567, 2) == -2600
    ntk, lr = [0.5, 0.1, 0.1], [0.2, 0.2, -0.1]
    # rank sums 0+1, 1+1, 1+0: ops 0 and 2 tie; op 0 comes first in the Δκ order
    assert prune_order(ntk, lr) == [0, 2, 1]
    assert prune_order([0.1, 0.5, 0.1], [-0.1, 0.2, 0.2]) == [1, 0, 2]  # op 1: best Δκ rank


def test_prune_ops_caps_per_edge():
    masks = [torch.ones(2, 8, dtype=torch.bool)]
    masks[0][:, 0] = False  # `none` pruned: 7 active ops per edge
    cands = _op_candidates(masks)
    order = list(range(len(cands)))[::-1]  # the last ops are the most attractive to prune
    _prune_ops(masks, cands, order, prune_number=3)
    assert masks[0].sum(dim=1).tolist() == [4, 4] and masks[0][:, 1:5].all()
    _prune_ops(masks, _op_candidates(masks), list(range(8)), prune_number=6)
    assert masks[0].sum(dim=1).tolist() == [1, 1]


@pytest.mark.parametrize(("draws", "evaluations"), [("candidate", 2 * (24 + 18 + 12)),
                                                   ("repeat", 3 + 24 + 18 + 12)])  # fmt: skip
def test_tenas_nb201_one_op_per_edge(nb201, draws, evaluations):
    result = run_search(
        "tenas", nb201, seed=0, ntk_supernet={"depth": 1}, draws=draws, **TINY_TENAS
    )
    ops = nb201_ops(result.arch)
    assert len(ops) == 6 and "none" not in ops and result.arch == nb201.canonical(result.arch)
    assert len(result.history) == 3  # 4 ops per edge after `none`, one pruned per round
    assert all(
        row.count("+") == 2 - i
        for i, (state, _) in enumerate(result.history)
        for row in state.split("|")
    )
    # "repeat": α and every candidate once per round; "candidate": α again for each candidate
    assert result.evaluations == evaluations


def test_tenas_augment_crops_and_flips_the_ntk_batch_only():
    plain, images, _ = _indicators("nb201", seed=3)._draw(weights=False)
    augmented, aug_images, _ = _indicators("nb201", seed=3, augment=True)._draw(weights=False)
    assert torch.equal(images.inputs, aug_images.inputs)  # the region crops are not augmented
    assert augmented.inputs.shape == plain.inputs.shape
    assert not torch.equal(augmented.inputs, plain.inputs)


def test_tenas_channels_last_changes_only_the_layout_of_the_ntk_net():
    masks = [torch.ones(6, 5, dtype=torch.bool)]
    cands = [(0, 0, 1), (0, 2, 3), (0, 5, None)]
    plain = _indicators("nb201", seed=5)
    fast = _indicators("nb201", seed=5, channels_last=True)
    for a, b in zip(plain.deltas(masks, cands), fast.deltas(masks, cands), strict=True):
        assert np.allclose(a, b, atol=1e-3)  # the same weights and data: rounding differs only
    batch, _, _ = fast._draw(weights=False)
    assert batch.inputs.is_contiguous(memory_format=torch.channels_last)
    conv = next(m for m in fast.ntk_net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    thin = next(m for m in fast.lr_net.modules() if isinstance(m, torch.nn.Conv2d))
    assert thin.weight.is_contiguous()  # the region counts keep the default layout


def test_tenas_deltas_seeded_and_kaiming_init():
    masks = [torch.ones(6, 5, dtype=torch.bool)]
    cands = [(0, 0, 1), (0, 0, 3), (0, 5, None)]
    first = _indicators("nb201").deltas(masks, cands)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(first, _indicators("nb201").deltas(masks, cands), strict=True)
    )
    # each repeat is rounded to 3 decimals; the mean of two is a multiple of 0.0005
    assert all(np.allclose(a * 2000, np.round(a * 2000)) for a in first)
    ind = _indicators("nb201")
    ind._draw(weights=True)
    # PyTorch's default init is bounded by 1/sqrt(fan_in); Kaiming-normal is not
    for net in (ind.ntk_net, ind.lr_net):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        exceed = [(m.weight.abs().max() * m.weight[0].numel() ** 0.5).item() > 1 for m in convs]
        assert sum(exceed) > len(convs) / 2
    # init="default": PyTorch's own draw, bounded as above, as the official launcher ends up using
    ind = _indicators("nb201", init="default")
    ind._draw(weights=True)
    for net in (ind.ntk_net, ind.lr_net):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert all((m.weight.abs().max() * m.weight[0].numel() ** 0.5).item() <= 1 for m in convs)
    with pytest.raises(TrainfreeError, match="initialisation"):
        run_search("tenas", get_space("nb201"), ntk_init="kaiming", **TINY_TENAS)
    with pytest.raises(TrainfreeError, match="draws"):
        run_search("tenas", get_space("nb201"), draws="once", **TINY_TENAS)


def test_tenas_draws_share_or_redraw_weights_and_data():
    masks = [torch.ones(6, 5, dtype=torch.bool)]
    masks[0][:, 0] = False
    same = [(0, 0, 1), (0, 0, 1)]  # one candidate twice: equal only if scored on one draw
    ntk, lr = _indicators("nb201", draws="repeat").deltas(masks, same)
    assert ntk[0] == ntk[1] and lr[0] == lr[1]
    ntk, lr = _indicators("nb201", draws="candidate").deltas(masks, same)
    assert ntk[0] != ntk[1]


@pytest.mark.parametrize(
    ("draws", "ntk_inits", "lr_inits"),
    [("candidate", 6, 6), ("repeat", 3, 3), ("launcher", 1, 6)],  # 3 repeats x 2 candidates
)
def test_tenas_draws_reinitialise_as_documented(monkeypatch, draws, ntk_inits, lr_inits):
    ind = _indicators("nb201", draws=draws)
    ind.repeat = 3
    calls = {id(ind.ntk_net): 0, id(ind.lr_net): 0}

    def count(net, init):
        calls[id(net)] += 1
        return net

    monkeypatch.setattr(tenas_module, "apply_init", count)
    masks = [torch.ones(6, 5, dtype=torch.bool)]
    masks[0][:, 0] = False
    ind.deltas(masks, [(0, 0, 1), (0, 1, 2)])
    assert (calls[id(ind.ntk_net)], calls[id(ind.lr_net)]) == (ntk_inits, lr_inits)


def test_tenas_darts_edge_pruning_keeps_two_inputs(darts):
    """The DARTS final step on single-op edges; the indicators are stubbed (rank by edge index)."""

    def deltas(masks, cands):  # removing a later edge lowers kappa more and loses fewer regions
        edges = np.array([e for _, e, _ in cands], dtype=float)
        return edges, -edges

    ind = SimpleNamespace(deltas=deltas, precision=3)
    masks = [torch.zeros(14, 8, dtype=torch.bool) for _ in range(2)]
    for mask in masks:
        mask[torch.arange(14), 1 + torch.arange(14) % 7] = True
    _prune_edges(ind, masks, EDGE_GROUPS, keep=2)
    arch = pruning_space("darts").arch_from_choice(single_choice(masks))
    g = parse_genotype(arch)
    # so later edges are pruned first and every node keeps its first two inputs
    assert [src for _, src in g.normal] == [0, 1, 0, 1, 0, 1, 0, 1]
    assert darts.canonical(arch) == arch


@pytest.mark.slow
def test_tenas_darts_valid_genotype(darts):
    result = run_search("tenas", darts, seed=0, prune_number=6, **TINY_TENAS)
    g = parse_genotype(result.arch)  # two distinct inputs per node, no `none`
    assert len(g.normal) == len(g.reduce) == 8
    final = result.history[-1][0].split(";")
    assert all(sum(bool(row) for row in cell.split("|")) == 8 for cell in final)
