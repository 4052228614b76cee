"""SynFlow: synaptic flow (Tanaka et al., NeurIPS 2020), as NASLib computes it, in log space.

NAS-Bench-Suite-Zero (NASLib ``measures/synflow.py``, after Abdelfattah et al., ICLR 2021),
on a copy of the network:

1. "linearise": every parameter replaced by its absolute value, the network run in float64;
2. BatchNorm removed (NASLib's ``bn=False`` makes every BatchNorm's forward the identity; here
   every ``_BatchNorm`` module of the copy is swapped for :class:`torch.nn.Identity`);
3. one all-ones input of the batch's image shape, ``R = Σ f(1)``, backward (no labels, no loss);
4. ``synflow = Σ_layers Σ |θ ⊙ dR/dθ|`` over the weights (not biases) of every conv/linear.

Raw values span 1e40..1e60 on NAS-Bench-201 and overflow on deeper networks, so we return
``log synflow``, accumulated as a log-sum-exp of ``log|θ| + log|dR/dθ|``: the products are never
formed, and the ranking equals that of the raw values (NASLib itself stores ``log``).

A network whose output does not depend on any weight (an all-``none`` NAS-Bench-201 cell) has
synflow 0; it scores :data:`LOG_ZERO` (≈ −1490), which is below ``log`` of every nonzero synflow
computable from float64 factors (each factor is at least the smallest subnormal, ``e^−744.4``).
Overflow of the float64 backward itself yields a non-finite score, which ``compute_proxy``
reports. Mode: eval (BatchNorm is gone, so only dropout would differ; NASLib's networks have
none). Higher is better.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.saliency import prunable_weights, weight_grads

LOG_ZERO = 2.0 * math.log(math.ulp(0.0)) - 1.0


def without_batchnorm(model: nn.Module) -> nn.Module:
    """Replace every BatchNorm module of ``model`` (in place) by the identity; return it."""
    names = [
        name
        for name, module in model.named_modules()
        if name and isinstance(module, nn.modules.batchnorm._BatchNorm)
    ]
    for name in names:
        model.set_submodule(name, nn.Identity())
    return model


def log_sum_abs_products(weights: list[torch.Tensor], grads: list[torch.Tensor]) -> float:
    """``log Σ |θ ⊙ g|`` without forming the products; :data:`LOG_ZERO` when the sum is 0."""
    if not weights:
        return LOG_ZERO
    with torch.no_grad():
        logs = torch.cat(
            [(w.abs().log() + g.abs().log()).flatten() for w, g in zip(weights, grads, strict=True)]
        )
        value = float(torch.logsumexp(logs.double(), dim=0))
    return LOG_ZERO if value == -math.inf else value


@register_proxy(
    "synflow",
    higher_is_better=True,
    data_mode=DataMode.ONES,
    paper="Tanaka et al., Pruning neural networks without any data by iteratively conserving "
    "synaptic flow, NeurIPS 2020 (NASLib zero-cost version, Abdelfattah et al., ICLR 2021)",
    dtype=torch.float64,
    train_mode=False,
)
def synflow(model: nn.Module, batch: Batch) -> float:
    """``log Σ |θ ⊙ dR/dθ|`` of the linearised, BatchNorm-free float64 copy of ``model``."""
    net = without_batchnorm(copy.deepcopy(model)).double()
    with torch.no_grad():
        for param in net.parameters():
            param.abs_()
    ones = torch.ones((1, *batch.inputs.shape[1:]), dtype=torch.float64, device=batch.inputs.device)
    weights = prunable_weights(net)
    grads = weight_grads(net(ones).sum(), weights)
    return log_sum_abs_products(weights, grads)
