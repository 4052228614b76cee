"""Jacobian covariance (Mellor et al., arXiv 2006.04647 v1, 2020), as NASLib's ``jacov``.

NAS-Bench-Suite-Zero (NASLib ``measures/jacov.py``, after Abdelfattah et al., ICLR 2021)::

    J_n = d(Σ_{m,k} f(x)_{m,k}) / dx_n    (one backward of the sum of all logits; row n, flattened)
    Σ = corrcoef(J)                       (N × N correlation between the images' rows)
    score = −Σ_i [log(λ_i + k) + 1 / (λ_i + k)],   k = 1e-5,  λ = eigenvalues of Σ

* data: the images of one batch (labels unused), BatchNorm in train mode as in NASLib, so batch
  statistics couple the rows (in eval mode ``J_n`` is the per-image Jacobian row sum);
  NASLib's batch size is 32;
* sign: higher is better (the maximum, −N, is reached by uncorrelated rows).

Eigenvalues come from ``eigvalsh`` in float64 (Σ is symmetric) and are clamped at 0, so rounding
cannot make ``log`` undefined. The correlation of a constant row (e.g. a zero Jacobian: a network
whose output ignores its input) is undefined and NASLib returns NaN; such a batch scores the
infimum of the score over all N × N correlation matrices, reached when every row is perfectly
correlated (λ = (N, 0, …, 0)): "no more informative than identical Jacobians".
"""

from __future__ import annotations

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy


def output_sum_input_grad(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``d Σ f(x) / dx`` for the whole batch, flattened to one row per image."""
    x = inputs.detach().clone().requires_grad_(True)
    out = model(x).sum()
    grad = torch.autograd.grad(out, x, allow_unused=True)[0] if out.requires_grad else None
    return (torch.zeros_like(x) if grad is None else grad).reshape(x.shape[0], -1)


def jacov_eigen_score(eigenvalues: torch.Tensor, k: float) -> float:
    """``−Σ log(λ + k) + 1/(λ + k)``."""
    shifted = eigenvalues.double().clamp(min=0.0) + k
    return float(-(shifted.log() + shifted.reciprocal()).sum())


def correlation_score(rows: torch.Tensor, k: float = 1e-5) -> float:
    """The jacov score of the row correlation matrix; its infimum if a row is constant."""
    rows = rows.double()
    n = rows.shape[0]
    if bool((rows.std(dim=1, correction=0) == 0).any()):
        rank_one = torch.zeros(n, dtype=torch.float64)
        rank_one[0] = n
        return jacov_eigen_score(rank_one, k)
    corr = torch.corrcoef(rows) if n > 1 else torch.ones(1, 1, dtype=torch.float64)
    return jacov_eigen_score(torch.linalg.eigvalsh(corr), k)


@register_proxy(
    "jacov",
    higher_is_better=True,
    data_mode=DataMode.INPUTS,
    paper="Mellor et al., Neural Architecture Search without Training, arXiv 2006.04647 v1, "
    "2020 (NASLib zero-cost version, Abdelfattah et al., ICLR 2021)",
    batch_size=32,
)
def jacov(model: nn.Module, batch: Batch, k: float = 1e-5) -> float:
    """Score of the correlation between the rows of ``d Σ f(x) / dx`` (see the module doc)."""
    return correlation_score(output_sum_input_grad(model, batch.inputs), k)
