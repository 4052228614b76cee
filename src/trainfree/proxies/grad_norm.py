"""Gradient norm, the NAS-Bench-Suite-Zero ``grad_norm`` baseline (Abdelfattah et al., ICLR 2021).

NASLib (``measures/grad_norm.py``) sums, over every conv/linear layer, the Euclidean norm of the
layer's weight gradient::

    score = Σ_layers ‖dL/dθ_l‖₂          (per-layer norms, not squared, not one global norm)

* loss: mean cross-entropy of the logits on one labelled batch (the whole batch at once);
* layers: the weights (not biases) of every ``Conv1d/Conv2d/Linear``; BatchNorm in train mode;
* sign: higher is better. A layer that does not reach the loss contributes 0.
"""

from __future__ import annotations

from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.saliency import cross_entropy_grads, layer_sum


@register_proxy(
    "grad_norm",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
    batch_size=32,
)
def grad_norm(model: nn.Module, batch: Batch) -> float:
    """``Σ_layers ‖dL/dθ_l‖₂`` over conv/linear weights for the cross-entropy loss on ``batch``."""
    weights, grads = cross_entropy_grads(model, batch)
    return layer_sum(weights, grads, lambda w, g: g.norm())
