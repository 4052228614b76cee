"""GraSP: gradient signal preservation (Wang, Zhang & Grosse, ICLR 2020), as NASLib computes it.

NAS-Bench-Suite-Zero (NASLib ``measures/grasp.py``, from Abdelfattah et al. 2021) scores a
network by the GraSP saliency summed over every conv/linear weight::

    g = dL/dθ,   Hg = d(g·stopgrad(g))/dθ,   score = Σ_θ (−θ ⊙ Hg)

* loss: cross-entropy of the logits on one labelled batch (temperature T = 1);
* layers: the weights (not biases) of every ``Conv1d/Conv2d/Linear`` module;
* batch: the whole batch at once; BatchNorm in train mode (batch statistics);
* sign: NASLib stores ``−θ·Hg`` (its comment notes that accuracy correlates negatively with
  ``+θ·Hg``); we store the same, and higher is better.

NASLib runs two forward passes over the same batch (one for ``g``, one with a graph for the
Hessian-vector product); in train mode both passes give the same logits, so one pass with a
double-backward graph computes the same value. A weight that does not reach the loss contributes
0, and a network with no such weight (or an all-zero gradient) scores 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.hooks import is_weighted


def prunable_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors of every conv/linear module, in module order."""
    return [module.weight for name, module in model.named_modules() if is_weighted(name, module)]


def weight_grads(
    loss: torch.Tensor, weights: list[torch.Tensor], *, create_graph: bool = False
) -> list[torch.Tensor]:
    """``dloss/dw`` for each weight, with zeros for weights that do not reach the loss."""
    if not loss.requires_grad:
        return [torch.zeros_like(w) for w in weights]
    grads = torch.autograd.grad(loss, weights, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights, strict=True)]


@register_proxy(
    "grasp",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Wang et al., Picking Winning Tickets Before Training by Preserving Gradient Flow, "
    "ICLR 2020 (NASLib zero-cost version, Abdelfattah et al., ICLR 2021)",
    batch_size=64,
)
def grasp(model: nn.Module, batch: Batch) -> float:
    """Σ −θ ⊙ (H g) over conv/linear weights for the cross-entropy loss on ``batch``."""
    weights = prunable_weights(model)
    if not weights:
        return 0.0
    loss = F.cross_entropy(model(batch.inputs), batch.targets)
    grads = weight_grads(loss, weights, create_graph=True)
    z = sum((g.detach() * g).sum() for g in grads)
    hess_grads = weight_grads(z, weights)
    return float(-sum((w.detach() * hg).sum() for w, hg in zip(weights, hess_grads, strict=True)))
