"""EPE-NAS: per-class correlation of input Jacobians (Lopes, Alirezazadeh & Alexandre, ICANN 2021),
as NASLib computes it for NAS-Bench-Suite-Zero.

* Jacobian: ``J = d(Σ logits)/dx`` by one backward pass over the whole labelled batch, with
  BatchNorm in train mode (so, as in NASLib, a sample's row also carries its batch-statistics
  coupling to the other samples); each row is flattened;
* per class ``c`` seen in the batch: ``s_c = Σ_ij log(|corr(J_c)_ij| + 1e-5)`` over the Pearson
  correlation matrix of that class's rows (a class with one sample gives ``log(1 + 1e-5)``);
* score with K ≤ 100 logits: ``Σ_c |s_c|``; with K > 100 (ImageNet-like): ``s_c`` is divided by
  the class's sample count and the score is ``Σ_{c,c'} |s_c − s_c'| / #classes seen``;
* sign: higher is better (less correlated Jacobians within a class).

Degenerate rows: a Jacobian row with zero variance (the output does not depend on that input, e.g.
a network that zeroes its features) has undefined correlations, which NASLib turns into NaN. Here
an undefined correlation counts as 1 (fully correlated, no information), so a network whose output
ignores its input scores about 0, the least possible.
"""

from __future__ import annotations

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy

_K = 1e-5
_MANY_CLASSES = 100


def input_jacobian(model: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``d(Σ model(x))/dx`` flattened per sample (zeros when the output ignores the input), and
    the number of logits."""
    x = inputs.detach().clone().requires_grad_(True)
    out = model(x)
    if not out.requires_grad:
        return torch.zeros(len(x), x[0].numel(), dtype=x.dtype), out.shape[-1]
    (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
    grad = torch.zeros_like(x) if grad is None else grad
    return grad.reshape(len(x), -1), out.shape[-1]


def correlation(rows: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between rows (float64); undefined entries (constant rows) are 1."""
    centred = rows.double() - rows.double().mean(1, keepdim=True)
    norms = centred.norm(dim=1)
    corr = centred @ centred.T / (norms[:, None] * norms[None, :])
    corr = corr.clamp(-1.0, 1.0)
    return torch.where(torch.isfinite(corr), corr, torch.ones_like(corr))


def epe_score(jacobian: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """The EPE-NAS score of flattened Jacobian rows grouped by ``labels``."""
    per_class = []
    for c in labels.unique():
        rows = jacobian[labels == c]
        s = torch.log(correlation(rows).abs() + _K).sum()
        per_class.append(s / len(rows) if num_classes > _MANY_CLASSES else s)
    s = torch.stack(per_class)
    if num_classes <= _MANY_CLASSES:
        return float(s.abs().sum())
    return float((s[:, None] - s[None, :]).abs().sum() / len(s))


@register_proxy(
    "epe_nas",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Lopes et al., EPE-NAS: Efficient Performance Estimation Without Training for Neural "
    "Architecture Search, ICANN 2021",
    batch_size=64,
)
def epe_nas(model: nn.Module, batch: Batch) -> float:
    """Per-class Jacobian-correlation score (see the module docstring)."""
    jacobian, num_logits = input_jacobian(model, batch.inputs)
    return epe_score(jacobian, batch.targets, num_logits)
