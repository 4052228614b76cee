"""Seed proxies: TE-NAS, NEAR, InTrain, GradAlign and the torch.func helpers they share."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from loop_reference import coupled_rows_loop, per_sample_grads_loop
from torch import nn

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data.batch import Batch
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.functional import output_jacobian, per_sample_grads
from trainfree.proxies.gradalign import alignment, gradalign, gradalign_det, gram_of_rows
from trainfree.proxies.intrain import block_names, participation_ratio
from trainfree.proxies.near import effective_rank, near
from trainfree.proxies.tenas import condition_number, count_patterns, tenas_lr, tenas_ntk
from trainfree.spaces import SPACES, get_space

SEED_PROXIES = (
    "tenas_ntk",
    "tenas_lr",
    "near",
    "intrain",
    "intrain_pr",
    "intrain_grad",
    "gradalign",
    "gradalign_det",
)


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.relu(self.bn(self.conv(x)))


class TinyResNet(nn.Module):
    """Stem, two residual blocks in a Sequential, pooling and a linear head."""

    def __init__(self, in_channels: int = 3, channels: int = 4, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(Block(channels), Block(channels))
        self.head = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(x.mean((2, 3)))


def tiny_mlp(features: int = 12, classes: int = 5) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(),
        nn.Linear(8, classes),
    )  # fmt: skip


def image_batch(n: int = 8, channels: int = 3, size: int = 8, classes: int = 5) -> Batch:
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(n, channels, size, size, generator=gen)
    return Batch(inputs, torch.randint(0, classes, (n,), generator=gen), classes)


def vector_batch(n: int = 10, features: int = 12, classes: int = 5) -> Batch:
    gen = torch.Generator().manual_seed(2)
    inputs = torch.randn(n, features, generator=gen)
    return Batch(inputs, torch.randint(0, classes, (n,), generator=gen), classes)


def seeded(model_fn, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return model_fn()


def ce_rows(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets, reduction="none")


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


# --- functional.py ------------------------------------------------------------------------


@pytest.mark.parametrize("make", [TinyResNet, tiny_mlp])
def test_per_sample_grads_match_loop(make) -> None:
    model = seeded(make)
    batch = image_batch() if make is TinyResNet else vector_batch()
    rows = per_sample_grads(model, batch.inputs, batch.targets, ce_rows, chunk_size=3)
    reference = per_sample_grads_loop(model, batch.inputs, batch.targets, ce_rows)
    torch.testing.assert_close(rows, reference, rtol=1e-4, atol=1e-6)


def test_output_jacobian_matches_tenas_loop_with_coupled_batchnorm() -> None:
    """One whole-batch forward, one backward per sample (VITA-Group/TENAS ntk.py)."""
    model = seeded(TinyResNet)
    batch = image_batch()
    rows = output_jacobian(model, batch.inputs, params_filter="weight", chunk_size=3)
    reference = coupled_rows_loop(model, batch.inputs, params="weight")
    torch.testing.assert_close(rows, reference, rtol=1e-4, atol=1e-6)


def test_coupled_per_sample_grads_sum_to_batch_gradient() -> None:
    model = seeded(TinyResNet)
    batch = image_batch()
    rows = per_sample_grads(model, batch.inputs, batch.targets, ce_rows, coupled=True)
    model.zero_grad()
    ce_rows(model(batch.inputs), batch.targets).sum().backward()
    torch.testing.assert_close(rows.sum(0), flat_grad(model), rtol=1e-4, atol=1e-6)


def test_param_filter_selects_columns() -> None:
    model = seeded(tiny_mlp)
    batch = vector_batch()
    rows = per_sample_grads(model, batch.inputs, batch.targets, ce_rows, params="bias")
    assert rows.shape == (len(batch), 16 + 8 + 5)
    with pytest.raises(TrainfreeError):
        per_sample_grads(model, batch.inputs, batch.targets, ce_rows, params="nothing")


# --- TE-NAS -------------------------------------------------------------------------------


def test_ntk_condition_number_of_linear_model_has_closed_form() -> None:
    """f(x) = Wx: the logit-sum gradient is 1 xᵀ, so Θ = K X Xᵀ and κ = (σ_max / σ_min)²."""
    batch = vector_batch(n=6, features=12)
    model = seeded(lambda: nn.Linear(12, 5, bias=False))
    singular = torch.linalg.svdvals(batch.inputs.double())
    expected = float((singular[0] / singular[-1]) ** 2)
    assert tenas_ntk(model, batch) == pytest.approx(expected, rel=1e-4)


def test_uncoupled_ntk_equals_coupled_without_batch_statistics() -> None:
    """In eval mode nothing couples the samples, so the cheap vmap path is exact."""
    model = seeded(TinyResNet).eval()
    batch = image_batch()
    assert tenas_ntk(model, batch, coupled=False) == pytest.approx(tenas_ntk(model, batch), 1e-3)


def test_condition_number_of_singular_ntk_is_capped() -> None:
    assert condition_number(torch.zeros(4, 7)) == 1e5
    assert condition_number(torch.ones(4, 7), max_condition=50.0) == 50.0
    assert condition_number(torch.eye(3, 5)) == pytest.approx(1.0)


def test_count_patterns_equals_official_hamming_formula() -> None:
    gen = torch.Generator().manual_seed(3)
    patterns = torch.rand(60, 4, generator=gen) > 0.5
    a = patterns.double()
    hamming = a @ (1 - a).T + (1 - a) @ a.T
    official = float((1.0 / (hamming == 0).sum(1).double()).sum())
    assert count_patterns(patterns) == pytest.approx(official)
    assert count_patterns(patterns) <= 16


def test_linear_regions_of_one_dimensional_relu_net() -> None:
    """Breakpoints at -1, 0, 0.5, 2 (one of them doubled) split the line into 5 regions."""
    breakpoints = torch.tensor([-1.0, 0.0, 0.5, 2.0, 0.5])
    hidden = nn.Linear(1, 5)
    with torch.no_grad():
        hidden.weight.fill_(1.0)
        hidden.bias.copy_(-breakpoints)
    model = nn.Sequential(hidden, nn.ReLU(), nn.Linear(5, 2))
    grid = torch.linspace(-3.0, 3.0, 601).unsqueeze(1)
    batch = Batch(grid, torch.zeros(601, dtype=torch.long), 2)
    assert tenas_lr(model, batch, spatial_only=False) == 5.0
    with pytest.raises(TrainfreeError, match="spatial_only"):
        tenas_lr(model, batch)


def test_linear_regions_thin_network_uses_seeded_single_channel_crops() -> None:
    model = seeded(lambda: TinyResNet(in_channels=1))
    batch = image_batch(n=4, size=8)
    first = tenas_lr(model, batch, samples=50, n_batches=2, seed=7)
    assert first == tenas_lr(model, batch, samples=50, n_batches=2, seed=7)
    assert 1.0 <= first <= 100.0
    # a wide model is fed the batch itself, so the count is bounded by the batch size
    assert 1.0 <= tenas_lr(seeded(TinyResNet), batch) <= 4.0


# --- NEAR ---------------------------------------------------------------------------------


def test_effective_rank_known_answers() -> None:
    assert effective_rank(torch.eye(4)) == pytest.approx(4.0)
    assert effective_rank(torch.outer(torch.arange(1.0, 6.0), torch.ones(3))) == pytest.approx(1.0)
    assert effective_rank(torch.zeros(3, 3)) == 0.0
    # two equal singular values and one zero: erank 2
    assert effective_rank(torch.diag(torch.tensor([3.0, 3.0, 0.0]))) == pytest.approx(2.0)


def test_near_sums_layer_ranks_and_is_deterministic() -> None:
    model = seeded(tiny_mlp)
    batch = vector_batch(n=20)
    score = near(model, batch, seed=0)
    assert score == near(model, batch, seed=0)
    # hooked: 3 linear (16, 8, 5 columns), ReLU (16), Tanh (8): every erank at most its width
    assert 0.0 < score <= 16 + 8 + 5 + 16 + 8


def test_near_on_conv_net_leaves_batchnorm_buffers_untouched() -> None:
    model = seeded(TinyResNet)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert near(model, image_batch(), seed=1) > 0.0
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])


# --- InTrain ------------------------------------------------------------------------------


def test_participation_ratio_known_answers() -> None:
    gen = torch.Generator().manual_seed(4)
    isotropic = torch.randn(20000, 6, generator=gen)
    assert participation_ratio(isotropic) == pytest.approx(6.0, rel=0.02)
    rank_one = torch.randn(500, 1, generator=gen) * torch.randn(1, 6, generator=gen)
    assert participation_ratio(rank_one) == pytest.approx(1.0, rel=1e-6)
    assert participation_ratio(torch.full((10, 4), 3.0)) == 1.0
    conv = torch.randn(50, 5, 4, 4, generator=gen)  # channels are dim 1
    assert participation_ratio(conv) == pytest.approx(5.0, rel=0.1)


def test_participation_ratio_matches_a_float64_covariance() -> None:
    """The float32 Gram with float64 assembly agrees with an all-float64 covariance, even for
    channels with a large common offset (no cancellation: the data are centred first)."""
    gen = torch.Generator().manual_seed(5)
    maps = torch.randn(16, 8, 12, 12, generator=gen) @ torch.ones(12, 12) / 4 + 50.0
    maps = torch.relu(maps + torch.randn(16, 8, 12, 12, generator=gen))
    x = maps.movedim(1, -1).reshape(-1, 8).double()
    x = x - x.mean(0)
    cov = x.T @ x / x.shape[0] + 1e-10 * torch.eye(8, dtype=torch.float64)
    reference = float(cov.trace() ** 2 / cov.square().sum())
    assert participation_ratio(maps) == pytest.approx(reference, rel=1e-5)
    channels_last = maps.contiguous(memory_format=torch.channels_last)
    assert participation_ratio(channels_last) == pytest.approx(reference, rel=1e-5)


def test_intrain_combines_its_two_terms() -> None:
    batch = image_batch(n=6)
    scores = {}
    for name in ("intrain", "intrain_pr", "intrain_grad"):
        model = seeded(TinyResNet)
        scores[name] = compute_proxy(get_proxy(name), model, batch)
    layers = 3  # default "blocks": the stem's 3 modules (the first of the largest containers)
    expected = scores["intrain_pr"] * (1 + scores["intrain_grad"]) / math.log(layers + 1)
    assert scores["intrain"] == pytest.approx(expected)
    n_params = len(list(TinyResNet().parameters()))
    assert 0.0 < scores["intrain_grad"] <= n_params


def test_intrain_layer_sets() -> None:
    model = seeded(TinyResNet)
    assert block_names(model) == {"stem.0", "stem.1", "stem.2"}  # the largest container
    assert block_names(tiny_mlp()) == {str(i) for i in range(6)}
    batch = image_batch(n=6)
    spec = get_proxy("intrain_pr")
    for layers in ("relu", "weighted", "blocks"):
        assert compute_proxy(spec, model, batch, layers=layers) > 0.0
    with pytest.raises(TrainfreeError, match="layer set"):
        compute_proxy(spec, model, batch, layers="cells")


# --- GradAlign ----------------------------------------------------------------------------


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
    assert gradalign_det(model, batch, sign=1) == pytest.approx(expected, rel=1e-4)
    zeros = Batch(torch.zeros(3, 12), one.targets.repeat(3), one.num_classes)
    assert gradalign(model, zeros) == 0.0
    assert gradalign_det(model, zeros) == 0.0


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


# --- all seed proxies ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_PROXIES)
@pytest.mark.parametrize("make", [TinyResNet, tiny_mlp])
def test_every_seed_proxy_is_finite_and_deterministic(name: str, make) -> None:
    spec = get_proxy(name)
    batch = image_batch() if make is TinyResNet else vector_batch()
    params = {"spatial_only": False} if name == "tenas_lr" and make is not TinyResNet else {}
    values = [compute_proxy(spec, seeded(make), batch, **params) for _ in range(2)]
    assert math.isfinite(values[0])
    assert values[0] == values[1]


DEGENERATE = (
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|",
)


@pytest.mark.skipif("nb201" not in SPACES, reason="the nb201 space is not available")
@pytest.mark.parametrize("arch", DEGENERATE)
def test_degenerate_nb201_archs_score_finite(arch: str) -> None:
    space = get_space("nb201")
    batch = image_batch(n=6, size=16, classes=10)
    for name in SEED_PROXIES:
        spec = get_proxy(name)
        torch.manual_seed(0)
        overrides = {"C": 4, "N": 1} if name != "tenas_lr" else dict(spec.build_overrides)
        model = space.build(arch, num_classes=10, **overrides)
        params = {"samples": 40} if name == "tenas_lr" else {}
        value = compute_proxy(spec, model, batch, **params)
        assert math.isfinite(value), (name, arch)
    if arch == DEGENERATE[0]:
        torch.manual_seed(0)
        model = space.build(arch, num_classes=10, C=4, N=1)
        assert tenas_ntk(model, batch) == 1e5


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
