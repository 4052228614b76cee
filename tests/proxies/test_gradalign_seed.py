"""GradAlign (``proxies/gradalign.py``): alignment and the Gram matrix of per-sample gradients."""

from __future__ import annotations

import math

import pytest
import torch
from proxy_nets_seed import seeded, tiny_mlp, vector_batch
from torch import nn

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data.batch import Batch
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.gradalign import alignment, gradalign, gradalign_det, gram_of_rows


def test_gradalign_identical_samples_are_perfectly_aligned() -> None:
    model = seeded(tiny_mlp)
    one = vector_batch(n=1)
    batch = Batch(one.inputs.repeat(8, 1), one.targets.repeat(8), one.num_classes)
    for variant in ("mean_cos", "coherence", "offdiag_cos", "conflict_frac"):
        assert gradalign(model, batch, variant=variant) == pytest.approx(1.0, abs=1e-6)
    eps, n = 1e-6, 8
    expected = (n - 1) * math.log(eps) + math.log(n + eps)  # det of J + εI
    assert gradalign_det(model, batch, sign=1, eps=eps) == pytest.approx(expected, rel=1e-4)
    assert gradalign_det(model, batch, sign=-1, eps=eps) == pytest.approx(-expected, rel=1e-4)


def test_alignment_of_opposite_gradients() -> None:
    g = torch.tensor([[1.0, 2.0], [-1.0, -2.0]], dtype=torch.float64)
    gram = g @ g.T
    assert alignment(gram, "mean_cos") == 0.0
    assert alignment(gram, "coherence") == pytest.approx(0.0)
    assert alignment(gram, "offdiag_cos") == pytest.approx(-1.0)
    assert alignment(gram, "conflict_frac") == 0.0
    assert alignment(torch.zeros(0, 0, dtype=torch.float64)) == 0.0
    with pytest.raises(TrainfreeError):
        alignment(gram, "median")


def test_gradalign_skips_zero_gradient_samples() -> None:
    """Without biases a zero input has a zero gradient: it drops out of the Gram matrix."""
    model = seeded(lambda: nn.Linear(12, 5, bias=False))
    one = vector_batch(n=1)
    inputs = torch.cat([one.inputs.repeat(4, 1), torch.zeros(3, 12)])
    batch = Batch(inputs, one.targets.repeat(7), one.num_classes)
    for variant in ("mean_cos", "coherence", "offdiag_cos", "conflict_frac"):
        assert gradalign(model, batch, variant=variant) == pytest.approx(1.0, abs=1e-6)
    expected = 3 * math.log(1e-6) + math.log(4 + 1e-6)  # 4 identical samples kept
    kept = gradalign_det(model, batch, sign=1, zero_rows="drop")  # issue 19: an option now
    assert kept == pytest.approx(expected, rel=1e-4)
    zeros = Batch(torch.zeros(3, 12), one.targets.repeat(3), one.num_classes)
    assert gradalign(model, zeros) == 0.0
    # issue 19's default counts a zero gradient as log eps: no gradient scores the floor
    assert gradalign_det(model, zeros) == pytest.approx(3 * math.log(1e-6))
    assert gradalign_det(model, zeros, scope="network", zero_rows="drop") == 0.0


def test_gradalign_gram_is_the_float64_gram_of_the_nonzero_rows() -> None:
    rows = torch.randn(6, 9, generator=torch.Generator().manual_seed(4))
    rows[1] = 0.0
    rows[4] = 0.0
    rows[4, 2] = 1e-45  # a float32 subnormal: the row is not zero
    kept = rows.double()[rows.double().norm(dim=1) > 0]
    assert torch.equal(gram_of_rows(rows), kept @ kept.T)
    assert gram_of_rows(rows).shape == (5, 5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_gradalign_gram_refuses_non_finite_gradients(bad: float) -> None:
    rows = torch.randn(4, 6)
    rows[2, 3] = bad
    with pytest.raises(NonFiniteScoreError):
        gram_of_rows(rows)


def test_gradalign_gram_of_blocks_equals_gram_of_joined_rows() -> None:
    gen = torch.Generator().manual_seed(5)
    blocks = [torch.randn(4, 3, 2, generator=gen), torch.randn(4, 5, generator=gen)]
    blocks[0][2] = 0.0
    blocks[1][2] = 0.0  # sample 2 has a zero gradient in every block: dropped
    rows = torch.cat([b.flatten(1) for b in blocks], dim=1)
    torch.testing.assert_close(gram_of_rows(blocks), gram_of_rows(rows), rtol=1e-12, atol=0)
    assert gram_of_rows(blocks).shape == (3, 3)
    blocks[1][0, 4] = math.nan
    with pytest.raises(NonFiniteScoreError):
        gram_of_rows(blocks)
