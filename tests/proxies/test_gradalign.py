"""GradAlign readings (issue 19): hand-computed cases, signs, per-layer scope, degenerate input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from loop_reference import per_sample_grads_loop
from torch import nn

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data.batch import Batch
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.gradalign import (
    alignment,
    full_gram,
    gradalign,
    gradalign_det,
    log_det,
    weight_names,
)


def gram(rows: list[list[float]]) -> torch.Tensor:
    g = torch.tensor(rows, dtype=torch.float64)
    return g @ g.T


class Net(nn.Module):
    """Conv, BatchNorm, linear head; ``dead`` is a linear layer whose output is multiplied by
    zero, so its weight never gets a gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.head = nn.Linear(3, 4)
        self.dead = nn.Linear(3, 4, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x))).mean((2, 3))
        return self.head(h) + 0.0 * self.dead(h)


def net_and_batch(n: int = 6) -> tuple[nn.Module, Batch]:
    torch.manual_seed(0)
    model = Net()
    gen = torch.Generator().manual_seed(1)
    batch = Batch(
        torch.randn(n, 2, 5, 5, generator=gen), torch.randint(0, 4, (n,), generator=gen), 4
    )
    return model, batch


# --- variant I: hand-computed alignment ------------------------------------------------------


def test_conflict_share_of_three_known_gradients() -> None:
    # raw mean ∝ (3, 1.2): g3 = (-1, 0.2) conflicts with it (-3 + 0.24 < 0)
    # unit mean ∝ (1, 0) + (0, 1) + (-0.981, 0.196): g3 agrees with it
    k = gram([[4.0, 0.0], [0.0, 1.0], [-1.0, 0.2]])
    assert alignment(k, "conflict_share", "raw") == pytest.approx(2 / 3)
    assert alignment(k, "conflict_share", "unit") == 1.0


def test_mean_cos_against_explicit_vectors() -> None:
    g = torch.tensor([[4.0, 0.0], [0.0, 1.0], [-1.0, 0.2]], dtype=torch.float64)
    for mean, centre in (("raw", g.mean(0)), ("unit", F.normalize(g, dim=1).mean(0))):
        expected = F.cosine_similarity(g, centre[None], dim=1).mean()
        assert alignment(g @ g.T, "mean_cos", mean) == pytest.approx(float(expected))


def test_opposite_gradients_have_no_mean_and_score_zero() -> None:
    k = gram([[1.0, 2.0], [-1.0, -2.0]])
    for mean in ("raw", "unit"):
        assert alignment(k, "conflict_share", mean) == 0.0
        assert alignment(k, "mean_cos", mean) == 0.0
    assert alignment(k, "offdiag_cos") == pytest.approx(-1.0)


def test_alignment_leaves_zero_gradients_out() -> None:
    k = gram([[1.0, 0.0], [0.0, 0.0], [1.0, 0.1]])
    assert alignment(k, "conflict_share") == 1.0  # 2 of 2 non-zero samples
    assert alignment(torch.zeros(3, 3, dtype=torch.float64)) == 0.0
    with pytest.raises(TrainfreeError, match="variant"):
        alignment(k, "median")
    with pytest.raises(TrainfreeError, match="mean"):
        alignment(k, "mean_cos", "geometric")


# --- variant II: hand-computed determinants ---------------------------------------------------


def test_log_det_and_smallest_eigenvalue_of_three_known_gradients() -> None:
    # cosines 0, 1/√2, 1/√2: eigenvalues of K are 0, 1, 2
    k, eps = gram([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 1e-3
    assert log_det(k, eps) == pytest.approx(math.log(eps * (1 + eps) * (2 + eps)))
    assert log_det(k, eps, "logmin") == pytest.approx(math.log(eps))
    orthogonal = torch.eye(3, dtype=torch.float64) * 5.0
    assert log_det(orthogonal, eps) == pytest.approx(3 * math.log(1 + eps))
    assert log_det(orthogonal, eps, "logmin") == pytest.approx(math.log(1 + eps))


def test_a_zero_gradient_counts_log_eps_or_is_dropped() -> None:
    k, eps = gram([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]]), 1e-3
    assert log_det(k, eps) == pytest.approx(math.log(eps) + 2 * math.log(1 + eps))
    assert log_det(k, eps, zero_rows="drop") == pytest.approx(2 * math.log(1 + eps))
    assert log_det(k, eps, "logmin") == pytest.approx(math.log(eps))
    assert log_det(k, eps, "logmin", "drop") == pytest.approx(math.log(1 + eps))
    empty = torch.zeros(4, 4, dtype=torch.float64)
    assert log_det(empty, eps) == pytest.approx(4 * math.log(eps))
    assert log_det(empty, eps, zero_rows="drop") == 0.0
    with pytest.raises(TrainfreeError, match="statistic"):
        log_det(k, eps, "trace")


# --- the proxies on a tiny network ------------------------------------------------------------


def reference_grams(model: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
    """Per-tensor Gram matrices from one backward pass per sample (no torch.func)."""
    rows = per_sample_grads_loop(
        model, batch.inputs, batch.targets, lambda o, y: F.cross_entropy(o, y, reduction="none")
    ).double()
    sizes = [p.numel() for p in model.parameters()]
    names = [name for name, _ in model.named_parameters()]
    return {n: b @ b.T for n, b in zip(names, rows.split(sizes, dim=1), strict=True)}


def test_weight_names_are_the_conv_and_linear_weights() -> None:
    model, _ = net_and_batch()
    assert weight_names(model) == ["conv.weight", "head.weight", "dead.weight"]


def test_layer_scope_is_the_mean_over_live_conv_and_linear_weights() -> None:
    model, batch = net_and_batch()
    grams = reference_grams(model, batch)
    assert not grams["dead.weight"].any()  # the dead layer is skipped, not scored
    live = [grams["conv.weight"], grams["head.weight"]]
    share = sum(alignment(g) for g in live) / 2
    det = sum(log_det(g, 1e-6) for g in live) / 2
    assert gradalign(model, batch) == pytest.approx(share, abs=1e-9)
    assert gradalign_det(model, batch) == pytest.approx(det, rel=1e-4)
    every = sum(grams.values())
    assert gradalign(model, batch, scope="network", params="all") == pytest.approx(
        alignment(every), abs=1e-9
    )
    old = gradalign(model, batch, variant="mean_cos", scope="network", params="all")
    assert old == pytest.approx(alignment(every, "mean_cos"), rel=1e-4)


def test_det_sign_favours_independent_gradients() -> None:
    model, batch = net_and_batch()
    one = Batch(batch.inputs[:1].repeat(6, 1, 1, 1), batch.targets[:1].repeat(6), 4)
    for scope in ("layer", "network"):
        distinct = gradalign_det(model, batch, scope=scope)
        identical = gradalign_det(model, one, scope=scope)  # 6 parallel gradients: rank 1
        assert distinct > identical
        assert gradalign_det(model, batch, sign=-1, scope=scope) == -distinct
        assert gradalign(model, one, scope=scope) == 1.0
    with pytest.raises(TrainfreeError, match="sign"):
        gradalign_det(model, batch, sign=2)


def test_no_gradient_at_all_scores_the_floor() -> None:
    model, batch = net_and_batch()
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.conv.weight)  # every conv/linear weight gradient is now zero
    for scope in ("layer", "network"):
        assert gradalign(model, batch, scope=scope) == 0.0
        assert gradalign_det(model, batch, scope=scope) == pytest.approx(6 * math.log(1e-6))
        assert gradalign_det(model, batch, scope=scope, statistic="logmin") == pytest.approx(
            math.log(1e-6)
        )
    assert gradalign_det(model, batch, scope="network", zero_rows="drop") == 0.0  # old reading


def test_coupled_rows_split_per_layer_match_vmap_without_batchnorm() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    gen = torch.Generator().manual_seed(2)
    batch = Batch(torch.randn(8, 5, generator=gen), torch.randint(0, 3, (8,), generator=gen), 3)
    for proxy in (gradalign, gradalign_det):
        assert proxy(model, batch, coupled=True) == pytest.approx(proxy(model, batch), rel=1e-5)


def test_every_reading_is_an_option_and_bad_options_raise() -> None:
    model, batch = net_and_batch()
    spec = get_proxy("gradalign[variant=mean_cos,mean=unit,scope=network,params=all]")
    assert math.isfinite(compute_proxy(spec, model, batch))
    spec = get_proxy("gradalign_det[statistic=logmin,zero_rows=drop,sign=-1,batch_size=128]")
    assert spec.batch_size == 128
    assert math.isfinite(compute_proxy(spec, model, batch))
    for name, message in (
        ("gradalign[scope=cell]", "scope"),
        ("gradalign[params=bn]", "params"),
        ("gradalign_det[zero_rows=keep]", "zero_rows"),
        ("gradalign_det[eps=0]", "eps"),
    ):
        with pytest.raises(TrainfreeError, match=message):
            compute_proxy(get_proxy(name), model, batch)


def test_non_finite_gradients_raise() -> None:
    rows = torch.randn(4, 6)
    rows[2, 3] = math.nan
    with pytest.raises(NonFiniteScoreError):
        full_gram(rows)
