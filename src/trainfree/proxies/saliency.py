"""Per-weight saliencies of the pruning-at-initialisation proxies (Abdelfattah et al., ICLR 2021).

NASLib (``pruners/p_utils.get_layer_metric_array``) evaluates these proxies as a sum, over every
conv/linear layer, of a metric of the layer's weight tensor ``θ`` and its gradient ``g``
(biases, BatchNorm and other parameters are never included):

* snip ``|θ ⊙ g|``, plain ``θ ⊙ g``, grad_norm ``‖g‖₂``, synflow ``|θ ⊙ g|`` (other loss).

This module holds that shared pattern once: which weights, their gradients, and the sum.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch
from trainfree.proxies.functional import shared
from trainfree.proxies.hooks import is_weighted

LayerMetric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def prunable_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors of every conv/linear module, in module order."""
    return [module.weight for name, module in model.named_modules() if is_weighted(name, module)]


def weight_grads(
    loss: torch.Tensor, weights: list[torch.Tensor], *, create_graph: bool = False
) -> list[torch.Tensor]:
    """``dloss/dw`` for each weight, with zeros for weights that do not reach the loss.

    Uses :func:`torch.autograd.grad`, so the model's ``.grad`` fields are left untouched.
    """
    if not weights:
        return []
    if not loss.requires_grad:
        return [torch.zeros_like(w) for w in weights]
    grads = torch.autograd.grad(loss, weights, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights, strict=True)]


@shared
def cross_entropy_grads(
    model: nn.Module, batch: Batch
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Conv/linear weights and their gradients of the mean cross-entropy on the whole batch.

    Shared (:func:`~trainfree.proxies.functional.shared`): snip, plain and grad_norm scored
    together use one backward pass; read-only.
    """
    weights = prunable_weights(model)
    loss = F.cross_entropy(model(batch.inputs), batch.targets)
    return weights, weight_grads(loss, weights)


def layer_sum(weights: list[torch.Tensor], grads: list[torch.Tensor], metric: LayerMetric) -> float:
    """``Σ_layers Σ metric(θ, g)``: NASLib's ``sum_arr`` of its per-layer metric arrays."""
    with torch.no_grad():
        total = sum(
            (metric(w, g).sum().double() for w, g in zip(weights, grads, strict=True)),
            start=torch.zeros((), dtype=torch.float64),
        )
    return float(total)
