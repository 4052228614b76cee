"""FreeDARTS / ZEROS pruning (``search/zeros.py``)."""

from __future__ import annotations

import pytest
import torch
from search_archs import nb201_ops

from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.search import run_search
from trainfree.search.supernet import cell_masks, pruning_space
from trainfree.search.zeros import DegenerateArchError, _check_nb201_cell, zeros_scores
from trainfree.spaces.darts import build_darts_supernet, discretise, parse_genotype

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def _nb201_choice(arch: str) -> list[list[int]]:
    return [[NB201_OPS.index(op) for op in nb201_ops(arch)]]


def test_zeros_nb201_iterative_and_one_shot(nb201):
    tiny = {"supernet": {"C": 4, "N": 1}, "image_size": 8}
    result = run_search("freedarts", nb201, seed=0, **tiny)
    assert len(nb201_ops(result.arch)) == 6 and result.evaluations == 4
    _check_nb201_cell(pruning_space("nb201"), _nb201_choice(result.arch))  # non-degenerate
    torch.manual_seed(0)
    net = pruning_space("nb201").build(C=4, N=1, num_classes=10, weights="alphas")
    (scores,) = zeros_scores(net, input_shape=(3, 8, 8))
    assert torch.isfinite(scores).all() and (scores >= 0).all()
    one_shot = run_search("freedarts", nb201, seed=0, rounds=1, **tiny)
    assert nb201_ops(one_shot.arch) == [NB201_OPS[i] for i in scores.argmax(dim=1).tolist()]


def test_zeros_mixing_none_and_alpha_init(nb201):
    """Raw-alpha mixing (the released code's): ``none`` outputs 0, so its ZEROS is exactly 0 and
    it is pruned first; under softmax its alpha moves the other ops' weights, so it scores > 0."""
    none = NB201_OPS.index("none")
    scores = {}
    for mixing in ("alphas", "softmax"):
        torch.manual_seed(0)
        net = pruning_space("nb201").build(C=4, N=1, num_classes=10, weights=mixing)
        (scores[mixing],) = zeros_scores(net, input_shape=(3, 8, 8))
    assert (scores["alphas"][:, none] == 0).all() and (scores["softmax"][:, none] > 0).all()
    tiny = {"supernet": {"C": 4, "N": 1}, "image_size": 8, "rounds": 2}
    result = run_search("freedarts", nb201, seed=0, **tiny)
    assert "none" not in result.history[0][0] and "none" not in nb201_ops(result.arch)
    one_round = {**tiny, "rounds": 1}
    for mixing, score in scores.items():
        found = run_search("freedarts", nb201, seed=0, mixing=mixing, **one_round)
        assert nb201_ops(found.arch) == [NB201_OPS[i] for i in score.argmax(dim=1).tolist()]
    ones = run_search("freedarts", nb201, seed=0, alpha_init="ones", **one_round)
    torch.manual_seed(0)
    net = pruning_space("nb201").build(C=4, N=1, num_classes=10, weights="alphas")
    with torch.no_grad():
        net.alphas.fill_(1.0)
    (unit,) = zeros_scores(net, input_shape=(3, 8, 8))
    assert nb201_ops(ones.arch) == [NB201_OPS[i] for i in unit.argmax(dim=1).tolist()]
    for bad in ({"supernet": {"weights": "softmax"}}, {"alpha_init": "zeros"}):
        with pytest.raises(TrainfreeError):
            run_search("freedarts", nb201, seed=0, **{**tiny, **bad})


def test_zeros_darts_valid_and_one_shot_matches_discretisation(darts):
    tiny = {"supernet": {"C": 2, "layers": 2}, "image_size": 8}
    result = run_search("freedarts", darts, seed=0, **tiny)
    assert len(parse_genotype(result.arch).normal) == 8
    torch.manual_seed(0)
    net = build_darts_supernet(C=2, layers=2, weights="alphas")
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
