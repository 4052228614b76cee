"""SNIP: connection sensitivity (Lee, Ajanthan & Torr, ICLR 2019), as NASLib computes it.

NAS-Bench-Suite-Zero (NASLib ``measures/snip.py``, after Abdelfattah et al., ICLR 2021) scores a
network by the summed SNIP saliency of every conv/linear weight::

    score = Σ_layers Σ |θ ⊙ dL/dθ|

NASLib takes the gradient with respect to a multiplicative mask of ones, which equals
``θ ⊙ dL/dθ``.

* loss: mean cross-entropy of the logits on one labelled batch (the whole batch at once);
* layers: the weights (not biases) of every ``Conv1d/Conv2d/Linear``; BatchNorm in train mode;
* sign: higher is better. A weight that does not reach the loss contributes 0.
"""

from __future__ import annotations

from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.saliency import cross_entropy_grads, layer_sum


@register_proxy(
    "snip",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Lee et al., SNIP: Single-shot Network Pruning based on Connection Sensitivity, "
    "ICLR 2019 (NASLib zero-cost version, Abdelfattah et al., ICLR 2021)",
    batch_size=32,
)
def snip(model: nn.Module, batch: Batch) -> float:
    """``Σ |θ ⊙ dL/dθ|`` over conv/linear weights for the cross-entropy loss on ``batch``."""
    weights, grads = cross_entropy_grads(model, batch)
    return layer_sum(weights, grads, lambda w, g: (w * g).abs())
