"""Plain: the signed first-order saliency ``θ ⊙ dL/dθ`` (Mozer & Smolensky 1989), as NASLib.

NAS-Bench-Suite-Zero (NASLib ``measures/plain.py``, after Abdelfattah et al., ICLR 2021)::

    score = Σ_layers Σ θ ⊙ dL/dθ          (signed: SNIP without the absolute value)

* loss: mean cross-entropy of the logits on one labelled batch (the whole batch at once);
* layers: the weights (not biases) of every ``Conv1d/Conv2d/Linear``; BatchNorm in train mode;
* sign: published as a saliency, so ``higher_is_better=True`` as in NASLib; note that NASLib's own
  scores correlate *negatively* with NAS-Bench-201 accuracy (Spearman about −0.26), which a
  correlation run with this convention reproduces.
"""

from __future__ import annotations

from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.saliency import cross_entropy_grads, layer_sum


@register_proxy(
    "plain",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Mozer & Smolensky, Skeletonization, NeurIPS 1989 (NASLib zero-cost version, "
    "Abdelfattah et al., ICLR 2021)",
    batch_size=32,
)
def plain(model: nn.Module, batch: Batch) -> float:
    """``Σ θ ⊙ dL/dθ`` over conv/linear weights for the cross-entropy loss on ``batch``."""
    weights, grads = cross_entropy_grads(model, batch)
    return layer_sum(weights, grads, lambda w, g: w * g)
