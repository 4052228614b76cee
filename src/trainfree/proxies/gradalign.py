"""GradAlign: conflicts among per-sample gradients at initialisation (Li & Guo, "GradAlign for
Training-free Model Performance Inference", arXiv 2411.19819, 2024).

No official code and no paper body were available: the reductions below are reconstructed
(specs/methods.md section 4.1) and must be checked against the PDF before release.

Per-sample cross-entropy gradients ``g_i`` (:func:`~trainfree.proxies.functional.per_sample_grads`,
``vmap(grad)``) over the labelled batch, with respect to the parameters selected by ``params``
(default all). Samples whose gradient is exactly zero are skipped; with ``m`` remaining samples
and the float64 Gram matrix ``K̃ = G Gᵀ`` (normalised: ``K_ij = cos(g_i, g_j)``):

``gradalign`` (``variant``; every variant is higher-better and equals 1 for identical samples):

* ``"mean_cos"`` (default): ``mean_i cos(g_i, ḡ)``, ``ḡ`` the mean gradient (the "GradAlign-I"
  reading of a published review); 0 when ``ḡ = 0``;
* ``"coherence"``: ``‖Σ g_i‖² / (m Σ ‖g_i‖²)`` = ``1ᵀK̃1 / (m tr K̃)`` in ``[0, 1]`` (the
  first-order loss drop of a gradient step, relative to perfectly aligned samples);
* ``"offdiag_cos"``: mean cosine over pairs ``i ≠ j``;
* ``"conflict_frac"``: ``1 −`` the fraction of pairs with negative cosine (so higher stays
  better).

``gradalign_det``: ``sign · log det(K + εI)`` (``slogdet``, float64). A larger determinant means
more mutually independent, less aligned gradients. ``sign = -1`` (default) follows the paper's
rationale that conflicting/independent gradients slow convergence; ``sign = +1`` reads it as
NTK-style conditioning. Measured on the fixed 1000-architecture NAS-Bench-201 sample against
200-epoch test accuracy (BENCHMARKS.md), ``sign = -1`` gives Spearman -0.738 (CIFAR-10) and
-0.698 (CIFAR-100), ``sign = +1`` the opposite, and ``gradalign``'s alignment -0.413 / +0.311:
less aligned gradients rank higher. The rationale's sign is kept as the default until the
paper's own convention can be checked (specs/methods.md 4.1).

Values without samples: with ``m = 0`` (every gradient zero) the alignment is 0 and the log
determinant is 0 (empty matrix); a single sample is perfectly aligned with itself.

BatchNorm: train mode, each sample through the network alone (``vmap``), so BatchNorm normalises
it with its own statistics; ``coupled=True`` takes the gradient of each sample's loss within one
whole-batch forward instead (BatchNorm couples the samples, cost ``B`` backward passes).

Layout: both proxies prefer NCHW (``memory_format="contiguous"``): ``vmap`` over single samples
ran 1.2x slower channels-last on a 2-core CPU (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import per_sample_grad_blocks, shared

PAPER = "Li & Guo, GradAlign for Training-free Model Performance Inference, arXiv 2411.19819, 2024"
VARIANTS = ("mean_cos", "coherence", "offdiag_cos", "conflict_frac")
DEFAULT_SIGN = -1


@shared
def sample_gram(
    model: nn.Module,
    batch: Batch,
    params: str | None = None,
    chunk_size: int | None = None,
    coupled: bool = False,
) -> torch.Tensor:
    """Float64 Gram matrix of the non-zero per-sample CE gradients, ``(m, m)``.

    Shared (:func:`~trainfree.proxies.functional.shared`) by ``gradalign`` and
    ``gradalign_det`` scored together; read-only.
    """
    blocks = per_sample_grad_blocks(
        model,
        batch.inputs,
        batch.targets,
        lambda logits, y: F.cross_entropy(logits, y, reduction="none"),
        params=params,
        chunk_size=chunk_size,
        coupled=coupled,
    )
    return gram_of_rows(blocks)


def gram_of_rows(grads: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Float64 ``G Gᵀ`` of the non-zero rows of ``grads``; raises on NaN or inf.

    ``grads`` is the ``(B, P)`` rows or their column blocks (one ``(B, *shape)`` tensor per
    parameter, :func:`~trainfree.proxies.functional.per_sample_grad_blocks`): the Gram is the
    sum of the blocks' float64 Grams, so no ``(B, P)`` copy is made (at full size that copy and
    its float64 twin cost as much as the gradients; BENCHMARKS.md). Row ``i`` is zero iff
    ``K̃_ii = Σ g_ik²`` is (a float32 value squared in float64 never underflows), and a NaN or
    inf anywhere in row ``i`` makes ``K̃_ii`` NaN or inf.
    """
    blocks = [grads] if isinstance(grads, torch.Tensor) else grads
    if not blocks:
        raise TrainfreeError("GradAlign: no per-sample gradient block to take a Gram matrix of")
    n = len(blocks[0])
    gram = torch.zeros(n, n, dtype=torch.float64, device=blocks[0].device)
    for block in blocks:
        rows = block.flatten(1).double()
        gram.addmm_(rows, rows.T)
    diagonal = gram.diagonal()
    if not bool(torch.isfinite(diagonal).all()):
        raise NonFiniteScoreError("GradAlign: a per-sample gradient contains NaN or inf")
    nonzero = diagonal > 0
    if not bool(nonzero.all()):
        gram = gram[nonzero][:, nonzero]
    return gram


def normalised(gram: torch.Tensor) -> torch.Tensor:
    """Cosine matrix ``K_ij = K̃_ij / (‖g_i‖ ‖g_j‖)``."""
    inv = gram.diagonal().rsqrt()
    return gram * inv[:, None] * inv[None, :]


def alignment(gram: torch.Tensor, variant: str = "mean_cos") -> float:
    """One of :data:`VARIANTS` from the unnormalised Gram matrix (1 = perfectly aligned)."""
    if variant not in VARIANTS:
        raise TrainfreeError(f"unknown gradalign variant {variant!r} (known: {VARIANTS})")
    m = gram.shape[0]
    if m == 0:
        return 0.0
    if variant == "mean_cos":
        total = gram.sum()
        if float(total) <= 0.0:
            return 0.0
        return float((gram.sum(1) / (gram.diagonal().sqrt() * total.sqrt())).mean())
    if variant == "coherence":
        return float(gram.sum() / (m * gram.trace()))
    if m == 1:
        return 1.0
    cos = normalised(gram)[~torch.eye(m, dtype=torch.bool, device=gram.device)]
    if variant == "offdiag_cos":
        return float(cos.mean())
    return 1.0 - float((cos < 0).double().mean())


def log_det(gram: torch.Tensor, eps: float = 1e-6) -> float:
    """``log det(K + εI)`` of the cosine matrix (0 for an empty one)."""
    if gram.shape[0] == 0:
        return 0.0
    kernel = normalised(gram)
    kernel.diagonal().add_(eps)
    sign, value = torch.linalg.slogdet(kernel)
    if float(sign) <= 0.0:
        raise NonFiniteScoreError("GradAlign: the regularised gradient Gram matrix is not PD")
    return float(value)


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
    variant: str = "mean_cos",
    params: str | None = None,
    chunk_size: int | None = None,
    coupled: bool = False,
) -> float:
    """Alignment of the per-sample gradients (see the module docstring)."""
    return alignment(sample_gram(model, batch, params, chunk_size, coupled), variant)


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
    sign: int = DEFAULT_SIGN,
    eps: float = 1e-6,
    params: str | None = None,
    chunk_size: int | None = None,
    coupled: bool = False,
) -> float:
    """``sign · log det(K + εI)`` of the per-sample gradient cosines."""
    if sign not in (1, -1):
        raise TrainfreeError(f"gradalign_det sign must be +1 or -1, got {sign}")
    return sign * log_det(sample_gram(model, batch, params, chunk_size, coupled), eps)
