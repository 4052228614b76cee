"""Searches: random, regularised evolution, proxy fitness, TE-NAS pruning, FreeDARTS/ZEROS."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies import PROXIES, get_proxy
from trainfree.proxies.ensemble import rank_aggregate
from trainfree.run.scoring import ScoreConfig
from trainfree.search import SEARCHES, Fitness, get_search, run_search
from trainfree.search import fitness as fitness_module
from trainfree.search import tenas as tenas_module
from trainfree.search.supernet import cell_masks, pruning_space, single_choice
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
from trainfree.search.zeros import DegenerateArchError, _check_nb201_cell, zeros_scores
from trainfree.spaces import get_space
from trainfree.spaces.darts import EDGE_GROUPS, build_darts_supernet, discretise, parse_genotype

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks run fastest, and robustly under CPU contention, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201")


@pytest.fixture(scope="module")
def darts():
    return get_space("darts")


def nb201_ops(arch: str) -> list[str]:
    return re.findall(r"\|([a-z_0-9]+)~\d", arch)


def conv3x3_count(arch: str) -> float:
    return float(nb201_ops(arch).count("nor_conv_3x3"))


# ----------------------------------------------------------------------------- black-box searches


def test_registry_names():
    assert SEARCHES.names() == ["freedarts", "random", "rea", "tenas"]
    with pytest.raises(TrainfreeError, match="unknown search"):
        get_search("bananas")


def test_rea_finds_known_optimum_and_respects_budget(nb201):
    result = run_search(
        "rea",
        nb201,
        fitness=conv3x3_count,
        evaluations=200,
        population_size=10,
        sample_size=5,
        seed=0,
    )
    assert result.algo == "rea" and result.evaluations == len(result.history) == 200
    initial_best = max(v for _, v in result.history[:10])
    assert result.fitness == 6.0 > initial_best  # all six edges nor_conv_3x3
    assert nb201_ops(result.arch) == ["nor_conv_3x3"] * 6
    again = run_search(
        "rea",
        nb201,
        fitness=conv3x3_count,
        evaluations=200,
        population_size=10,
        sample_size=5,
        seed=0,
    )
    assert again.history == result.history
    other = run_search(
        "rea",
        nb201,
        fitness=conv3x3_count,
        evaluations=200,
        population_size=10,
        sample_size=5,
        seed=1,
    )
    assert other.history != result.history


def test_random_search_distinct_budgeted_seeded(darts):
    def fitness(arch: str) -> float:
        g = parse_genotype(arch)
        return float(sum(op == "sep_conv_3x3" for op, _ in g.normal + g.reduce))

    result = run_search("random", darts, fitness=fitness, evaluations=25, seed=3)
    archs = [a for a, _ in result.history]
    assert len(archs) == len(set(archs)) == result.evaluations == 25
    assert result.fitness == max(v for _, v in result.history) == fitness(result.arch)
    again = run_search("random", darts, fitness=fitness, evaluations=25, seed=3)
    assert (again.arch, again.history) == (result.arch, result.history)
    timed = run_search("random", darts, fitness=fitness, evaluations=None, seconds=0.2, seed=3)
    assert timed.evaluations >= 1 and timed.history[0] == result.history[0]


def test_budget_and_option_errors(nb201):
    with pytest.raises(TrainfreeError, match="budget"):
        run_search("rea", nb201, fitness=conv3x3_count, evaluations=None)
    with pytest.raises(TrainfreeError, match="unexpected keyword"):
        run_search("random", nb201, fitness=conv3x3_count, generations=3)
    with pytest.raises(TrainfreeError, match="proxy"):
        run_search("random", nb201, evaluations=3)


# ----------------------------------------------------------------------------- proxy fitness


def fake_value(arch: str, proxy: str) -> float:
    return conv3x3_count(arch) + len(proxy) * nb201_ops(arch).count("skip_connect")


@pytest.fixture
def fake_scores(monkeypatch):
    """Replace proxy scoring by a deterministic table of values; count the calls."""
    calls: list[tuple[str, str]] = []

    def fake(space, arch, proxies, config):
        calls.extend((arch, proxy) for proxy in proxies)
        return {proxy: SimpleNamespace(value=fake_value(arch, proxy)) for proxy in proxies}

    monkeypatch.setattr(fitness_module, "score_proxies", fake)
    return calls


def test_single_proxy_fitness_sign_and_cache(nb201, fake_scores):
    lower = next(p for p in PROXIES if not get_proxy(p).higher_is_better)
    higher = next(p for p in PROXIES if get_proxy(p).higher_is_better)
    arch = nb201.sample(1, seed=0)[0]
    f_low, f_high = Fitness(nb201, lower, ScoreConfig()), Fitness(nb201, higher, ScoreConfig())
    assert f_low(arch) == -fake_value(arch, lower) and f_high(arch) == fake_value(arch, higher)
    assert f_high(arch) == fake_value(arch, higher)
    assert f_high.evaluations == 1 and fake_scores.count((arch, higher)) == 1


def test_ensemble_fitness_is_relative_to_history(nb201, fake_scores):
    names = sorted(PROXIES, key=len)[:2]
    fit = Fitness(nb201, names, ScoreConfig(), method="rank_sum")
    archs = nb201.sample(6, seed=2)
    first = fit(archs[0])
    for arch in archs[1:]:
        fit(arch)
    table = {p: [fit.components(a)[p] for a in archs] for p in names}
    hib = {p: get_proxy(p).higher_is_better for p in names}
    expected = rank_aggregate(table, hib, "rank_sum")
    assert np.allclose(fit.values(archs), expected)
    assert first == 2.0  # alone in the history: dense rank 1 for each of the two proxies
    assert fit.evaluations == 6 and len(fake_scores) == 12


# ----------------------------------------------------------------------------- TE-NAS

TINY_TENAS = {
    "dataset": "synthetic",
    "image_size": 8,
    "batch_size": 4,
    "repeat": 1,
    "lr_samples": 30,
    "lr_batches": 1,
}


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


def _indicators(
    space: str,
    seed: int = 0,
    init: str | None = None,
    draws: str = "candidate",
    augment: bool = False,
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
    )


def test_tenas_augment_crops_and_flips_the_ntk_batch_only():
    plain, images, _ = _indicators("nb201", seed=3)._draw(weights=False)
    augmented, aug_images, _ = _indicators("nb201", seed=3, augment=True)._draw(weights=False)
    assert torch.equal(images.inputs, aug_images.inputs)  # the region crops are not augmented
    assert augmented.inputs.shape == plain.inputs.shape
    assert not torch.equal(augmented.inputs, plain.inputs)


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


# ----------------------------------------------------------------------------- FreeDARTS / ZEROS


def _nb201_choice(arch: str) -> list[list[int]]:
    return [[NB201_OPS.index(op) for op in nb201_ops(arch)]]


def test_zeros_nb201_iterative_and_one_shot(nb201):
    tiny = {"supernet": {"C": 4, "N": 1}, "image_size": 8}
    result = run_search("freedarts", nb201, seed=0, **tiny)
    assert len(nb201_ops(result.arch)) == 6 and result.evaluations == 4
    _check_nb201_cell(pruning_space("nb201"), _nb201_choice(result.arch))  # non-degenerate
    torch.manual_seed(0)
    net = pruning_space("nb201").build(C=4, N=1, num_classes=10)
    (scores,) = zeros_scores(net, input_shape=(3, 8, 8))
    assert torch.isfinite(scores).all() and (scores >= 0).all()
    one_shot = run_search("freedarts", nb201, seed=0, rounds=1, **tiny)
    assert nb201_ops(one_shot.arch) == [NB201_OPS[i] for i in scores.argmax(dim=1).tolist()]


def test_zeros_darts_valid_and_one_shot_matches_discretisation(darts):
    tiny = {"supernet": {"C": 2, "layers": 2}, "image_size": 8}
    result = run_search("freedarts", darts, seed=0, **tiny)
    assert len(parse_genotype(result.arch).normal) == 8
    torch.manual_seed(0)
    net = build_darts_supernet(C=2, layers=2)
    scores = zeros_scores(net, input_shape=(3, 8, 8), bn="batch", abs_alphas=False)
    one_shot = run_search(
        "freedarts", darts, seed=0, rounds=1, bn="batch", abs_alphas=False, **tiny
    )
    assert one_shot.arch == discretise(scores) and one_shot.evaluations == 1


def test_zeros_refuses_nan_and_degenerate_cells():
    torch.manual_seed(0)
    net = build_darts_supernet(C=2, layers=2)
    with torch.no_grad():
        next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d)).weight.fill_(float("nan"))
    with pytest.raises(NonFiniteScoreError):
        zeros_scores(net, input_shape=(3, 8, 8))
    spec = pruning_space("nb201")
    zero_path = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
    with pytest.raises(DegenerateArchError):
        _check_nb201_cell(spec, _nb201_choice(zero_path))
    _check_nb201_cell(spec, _nb201_choice(zero_path.replace("none~1|nor", "skip_connect~1|nor")))
    assert cell_masks(net)[0].all()  # scoring never edits the supernet
