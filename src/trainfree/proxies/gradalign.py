"""GradAlign: conflicts among per-sample gradients at initialisation (Li & Guo, "GradAlign for
Training-free Model Performance Inference", arXiv 2411.19819, 2024).

The paper's principle (abstract): conflicts among per-sample gradients at initialisation hinder
convergence; variant I scores their alignment, variant II the determinant of their Gram matrix
(more linearly independent per-sample gradients, as in the over-parameterised convergence
theory this line of work builds on: a larger smallest eigenvalue, faster convergence). No
official code and no paper body were available, so the exact formulas are not known: every open
point below is a documented choice, made by measurement (table below) and kept as an option.
The defaults were chosen on NAS-Bench-201 and do not transfer to NAS-Bench-101: there (182
cells, full-size network, nothing re-tuned) they reach Spearman +0.26 (``gradalign``) and +0.37
(``gradalign_det``) against +0.64 for #params (BENCHMARKS.md).

Engine. Per-sample cross-entropy gradients ``g_i`` (``vmap(grad)``,
:func:`~trainfree.proxies.functional.per_sample_grad_blocks`; one block per parameter tensor) of
the labelled batch. ``params`` selects the tensors: ``"weights"`` (the weights of convolutions
and linear layers) or ``"all"``. ``scope="layer"`` reads each selected tensor's gradients on
their own and averages the reading over the *live* tensors (those where some sample has a
non-zero gradient); ``scope="network"`` reads the joined gradient once. Each reading uses the
float64 Gram matrix ``K̃ = G Gᵀ`` and the cosine matrix ``K_ij = cos(g_i, g_j)``; samples whose
gradient is exactly zero are left out (``m`` samples remain).

``gradalign`` (variant I, ``variant``; higher = more aligned):

* ``"conflict_share"`` (default): share of the ``m`` samples whose gradient has a non-negative
  inner product with the mean gradient ``ḡ`` (not in conflict with the step gradient descent
  takes); ``mean="raw"`` (default) averages the raw gradients, ``mean="unit"`` the
  unit-normalised ones; 0 when ``ḡ = 0``;
* ``"mean_cos"``: ``mean_i cos(g_i, ḡ)`` (a published review's reading; the old default);
* ``"coherence"``: ``‖Σ g_i‖² / (m Σ ‖g_i‖²)`` in ``[0, 1]``;
* ``"offdiag_cos"``: mean cosine over pairs ``i ≠ j``;
* ``"conflict_frac"``: ``1 −`` the fraction of pairs with negative cosine.

``gradalign_det`` (variant II, ``statistic``; ``sign`` +1 = higher is better):

* ``"logdet"`` (default): ``log det(K + εI)``;
* ``"logmin"``: ``log λ_min(K + εI)`` (the convergence theory's quantity).

``zero_rows`` (variant II): ``"eps"`` (default) keeps every sample, a zero gradient giving a
zero row of ``K``, so it contributes ``log ε``: a network without gradient scores the floor
``B log ε`` (``log ε`` for ``logmin``) instead of the ceiling; ``"drop"`` leaves such samples
out (the old reading: an empty matrix gives 0). In ``scope="layer"`` a tensor without any
gradient is skipped either way; with no live tensor the score is the floor (variant I: 0).

Measured (``benchmarks/gradalign_readings.py``, BENCHMARKS.md): NAS-Bench-201, the fixed
1000-architecture sample, 200-epoch test accuracy, seed 0 (one batch and init for all), Spearman
with accuracy. Readings chosen on the first 100 architectures of *both* datasets (mean of the
two; batch 128 only if it won by more than 0.02, at twice the cost: it did not), reported on the
held-out architectures 100-588 (n = 489 per dataset); "partial" is the Spearman with accuracy
controlling for #params::

    reading (batch 64)                        select C10/C100  held-out C10/C100  partial
    gradalign (default)                         .852 / .776      .854 / .795     .695 / .609
    gradalign[mean=unit]                        .853 / .767      .858 / .791     .696 / .595
    gradalign[scope=network]                    .644 / .041      .640 / .016     .362 / .031
    gradalign[variant=conflict_frac]            .634 / .637      .679 / .652     .368 / .396
    gradalign[variant=mean_cos]                 .485 / .496      .355 / .339     .304 / .320
    gradalign[variant=coherence]                .109 / .064      .124 / .050     .139 / .099
    old gradalign (mean_cos, network, all)     -.296 / .295     -.427 / .240    -.113 / .242
    gradalign_det (default)                     .908 / .849      .908 / .867     .764 / .694
    gradalign_det[statistic=logmin]             .883 / .855      .891 / .873     .731 / .697
    gradalign_det[scope=network]                .710 / .620      .727 / .701     .419 / .393
    gradalign_det[scope=network,zero_rows=drop] .651 / .561      .572 / .545     .181 / .167
    old gradalign_det (-log det, network, all) -.710 /-.631     -.724 /-.704    -.416 /-.395
    #params (= FLOPs in rank)                   .751 / .738      .786 / .767       -
    default readings at batch 128               .838 / .799 (I), .909 / .858 (II), select only

On all 900 held-out architectures (100-999, measured to the end of the sample later): default
``gradalign`` .861 / .808, ``gradalign_det`` .913 / .876, #params .775 / .758.

Defaults: each variant's best reading on the selection architectures (mean over the two
datasets), batch 64: per conv/linear layer, variant I counts conflicting samples (the mean
cosine and the network-wide readings rank worse or flip between datasets), variant II takes
``+log det`` (``logmin`` is within 0.01 of it). Both defaults correlate with #params
(held-out Spearman .69 / .65 for variant I, .78 / .74 for variant II) but keep most of their
signal at fixed size (partial column; Spearman inside five #params bins .69 / .61 and
.76 / .69, #params itself .15 / .10), so they are not a size proxy in disguise.

They do not transfer to NAS-Bench-101 (held out, nothing tuned there; BENCHMARKS.md): Spearman
+0.26 (I) / +0.37 (II) on 182 of NASLib's cells against #params' +0.64, and no reading of the
family reaches the NB201 levels there (the best, per-layer ``logmin``, +0.63 on 100 cells, level
with #params and 0.78 correlated with it).

Old defaults on the 1000 architectures: ``gradalign`` (mean cosine to the raw mean gradient, all
parameters, network) -0.413 (CIFAR-10) / +0.311 (CIFAR-100), ``gradalign_det`` (``-log det``)
-0.738 / -0.698. Both old readings remain reachable:
``gradalign[variant=mean_cos,params=all,scope=network]`` and
``gradalign_det[sign=-1,params=all,scope=network,zero_rows=drop]``.

BatchNorm: train mode, each sample through the network alone (``vmap``), so BatchNorm normalises
it with its own statistics; ``coupled=True`` takes the gradient of each sample's loss within one
whole-batch forward instead (BatchNorm couples the samples, cost ``B`` backward passes).

Layout: both proxies prefer NCHW (``memory_format="contiguous"``): ``vmap`` over single samples
ran 1.2x slower channels-last on a 2-core CPU (BENCHMARKS.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import per_sample_grad_blocks, shared

PAPER = "Li & Guo, GradAlign for Training-free Model Performance Inference, arXiv 2411.19819, 2024"
VARIANTS = ("conflict_share", "mean_cos", "coherence", "offdiag_cos", "conflict_frac")
MEANS = ("raw", "unit")
STATISTICS = ("logdet", "logmin")
ZERO_ROWS = ("eps", "drop")
SCOPES = ("layer", "network")
PARAM_SETS = ("weights", "all")
WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)


def _check(option: str, value: str, known: tuple[str, ...]) -> None:
    if value not in known:
        raise TrainfreeError(f"unknown gradalign {option} {value!r} (known: {', '.join(known)})")


def _check_det(eps: float, statistic: str, zero_rows: str) -> None:
    _check("statistic", statistic, STATISTICS)
    _check("zero_rows", zero_rows, ZERO_ROWS)
    if not eps > 0.0:
        raise TrainfreeError(f"gradalign_det eps must be positive, got {eps}")


def weight_names(model: nn.Module) -> list[str]:
    """Names of the trainable weights of the convolutions and linear layers of ``model``."""
    return [
        f"{prefix}.weight" if prefix else "weight"
        for prefix, module in model.named_modules()
        if isinstance(module, WEIGHTED) and module.weight.requires_grad
    ]


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets, reduction="none")


@shared
def sample_grad_blocks(
    model: nn.Module, batch: Batch, chunk_size: int | None = None, coupled: bool = False
) -> dict[str, torch.Tensor]:
    """Per-sample CE gradients, one ``(B, *shape)`` block per trainable parameter, by name.

    ``coupled=True``: the rows of one whole-batch forward, split into one ``(B, numel)`` block
    per parameter. Shared by ``gradalign`` and ``gradalign_det`` scored together; read-only.
    """
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    blocks = per_sample_grad_blocks(
        model, batch.inputs, batch.targets, _cross_entropy, chunk_size=chunk_size, coupled=coupled
    )
    if coupled:
        blocks = list(blocks[0].split([p.numel() for _, p in trainable], dim=1))
    return {name: block for (name, _), block in zip(trainable, blocks, strict=True)}


@shared
def layer_grams(
    model: nn.Module,
    batch: Batch,
    params: str = "weights",
    chunk_size: int | None = None,
    coupled: bool = False,
) -> list[torch.Tensor]:
    """Float64 ``(B, B)`` Gram matrix of the per-sample gradients of each selected tensor
    (``params``: ``"weights"`` or ``"all"``), zero rows kept; read-only."""
    _check("params", params, PARAM_SETS)
    blocks = sample_grad_blocks(model, batch, chunk_size, coupled)
    names = [n for n in weight_names(model) if n in blocks] if params == "weights" else [*blocks]
    if not names:
        raise TrainfreeError("GradAlign: the model has no convolution or linear weight")
    return [full_gram(blocks[name]) for name in names]


def full_gram(grads: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Float64 ``G Gᵀ`` of the rows of ``grads`` (zero rows kept); raises on NaN or inf.

    ``grads`` is the ``(B, P)`` rows or their column blocks (one ``(B, *shape)`` tensor per
    parameter): the Gram is the sum of the blocks' Grams, so no ``(B, P)`` copy is made. A NaN
    or inf anywhere in row ``i`` makes ``K̃_ii = Σ g_ik²`` NaN or inf.
    """
    blocks = [grads] if isinstance(grads, torch.Tensor) else grads
    if not blocks:
        raise TrainfreeError("GradAlign: no per-sample gradient block to take a Gram matrix of")
    n = len(blocks[0])
    gram = torch.zeros(n, n, dtype=torch.float64, device=blocks[0].device)
    for block in blocks:
        rows = block.flatten(1).double()
        gram.addmm_(rows, rows.T)
    if not bool(torch.isfinite(gram.diagonal()).all()):
        raise NonFiniteScoreError("GradAlign: a per-sample gradient contains NaN or inf")
    return gram


def nonzero_rows(gram: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of the samples with a non-zero gradient (``K̃_ii > 0``; a float32 value
    squared in float64 never underflows)."""
    keep = gram.diagonal() > 0
    return gram if bool(keep.all()) else gram[keep][:, keep]


def gram_of_rows(grads: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """:func:`full_gram` without the zero rows, ``(m, m)``."""
    return nonzero_rows(full_gram(grads))


def normalised(gram: torch.Tensor) -> torch.Tensor:
    """Cosine matrix ``K_ij = K̃_ij / (‖g_i‖ ‖g_j‖)`` (zero rows stay zero)."""
    norms = gram.diagonal().sqrt()
    inv = torch.where(norms > 0, 1.0 / norms, torch.zeros_like(norms))
    return gram * inv[:, None] * inv[None, :]


def alignment(gram: torch.Tensor, variant: str = "conflict_share", mean: str = "raw") -> float:
    """One of :data:`VARIANTS` from a Gram matrix (zero rows are left out; 1 = aligned)."""
    _check("variant", variant, VARIANTS)
    _check("mean", mean, MEANS)
    gram = nonzero_rows(gram)
    m = gram.shape[0]
    if m == 0:
        return 0.0
    if variant in ("conflict_share", "mean_cos"):
        # <g_i, ḡ> up to a positive factor, ḡ the mean of the raw or unit-normalised gradients
        weights = torch.ones(m, dtype=gram.dtype) if mean == "raw" else gram.diagonal().rsqrt()
        inner = gram @ weights
        squared_mean_norm = float(weights @ inner)
        if squared_mean_norm <= 0.0:
            return 0.0
        if variant == "conflict_share":
            return float((inner >= 0).double().mean())
        return float((inner / gram.diagonal().sqrt()).mean()) / math.sqrt(squared_mean_norm)
    if variant == "coherence":
        return float(gram.sum() / (m * gram.trace()))
    if m == 1:
        return 1.0
    cos = normalised(gram)[~torch.eye(m, dtype=torch.bool, device=gram.device)]
    if variant == "offdiag_cos":
        return float(cos.mean())
    return 1.0 - float((cos < 0).double().mean())


def log_det(
    gram: torch.Tensor, eps: float = 1e-6, statistic: str = "logdet", zero_rows: str = "eps"
) -> float:
    """``log det(K + εI)`` or ``log λ_min(K + εI)`` of the cosine matrix (module docstring);
    with ``zero_rows="drop"`` an empty matrix gives 0."""
    _check_det(eps, statistic, zero_rows)
    kernel = normalised(nonzero_rows(gram) if zero_rows == "drop" else gram)
    if kernel.shape[0] == 0:
        return 0.0
    kernel.diagonal().add_(eps)
    if statistic == "logmin":
        return math.log(max(float(torch.linalg.eigvalsh(kernel)[0]), eps))
    sign, value = torch.linalg.slogdet(kernel)
    if float(sign) <= 0.0:
        raise NonFiniteScoreError("GradAlign: the regularised gradient Gram matrix is not PD")
    return float(value)


def _read(grams: list[torch.Tensor], scope: str, reading, floor: float) -> float:
    """``reading`` of the joined gradient (``"network"``) or its mean over the live tensors
    (``"layer"``; ``floor`` when none is live)."""
    _check("scope", scope, SCOPES)
    if scope == "network":
        return reading(torch.stack(grams).sum(0))
    live = [reading(g) for g in grams if bool((g.diagonal() > 0).any())]
    return math.fsum(live) / len(live) if live else floor


@register_proxy(
    "gradalign",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper=PAPER + " (GradAlign-I, alignment)",
    batch_size=64,
    train_mode=True,
    memory_format="contiguous",
)
def gradalign(
    model: nn.Module,
    batch: Batch,
    variant: str = "conflict_share",
    mean: str = "raw",
    scope: str = "layer",
    params: str = "weights",
    chunk_size: int | None = None,
    coupled: bool = False,
) -> float:
    """Alignment of the per-sample gradients (see the module docstring)."""
    _check("variant", variant, VARIANTS)
    _check("mean", mean, MEANS)
    grams = layer_grams(model, batch, params, chunk_size, coupled)
    return _read(grams, scope, lambda g: alignment(g, variant, mean), 0.0)


@register_proxy(
    "gradalign_det",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper=PAPER + " (GradAlign-II, Gram determinant)",
    batch_size=64,
    train_mode=True,
    memory_format="contiguous",
)
def gradalign_det(
    model: nn.Module,
    batch: Batch,
    sign: int = 1,
    statistic: str = "logdet",
    eps: float = 1e-6,
    zero_rows: str = "eps",
    scope: str = "layer",
    params: str = "weights",
    chunk_size: int | None = None,
    coupled: bool = False,
) -> float:
    """``sign`` times the log determinant (or smallest eigenvalue) of the per-sample gradient
    cosines (see the module docstring)."""
    if sign not in (1, -1):
        raise TrainfreeError(f"gradalign_det sign must be +1 or -1, got {sign}")
    _check_det(eps, statistic, zero_rows)
    floor = (len(batch) if statistic == "logdet" else 1) * math.log(eps)
    grams = layer_grams(model, batch, params, chunk_size, coupled)
    value = _read(grams, scope, lambda g: log_det(g, eps, statistic, zero_rows), floor)
    return sign * value
