"""Fisher: channel saliency from the empirical Fisher information (Theis et al. 2018; Turner et
al., BlockSwap, ICLR 2020), as NASLib computes it for NAS-Bench-Suite-Zero.

For each conv/linear layer with output activation ``a`` (before BatchNorm/ReLU) and
``g = dL/da``::

    fisher_k = 0.5 * mean_n ( Σ_{spatial} a_nk g_nk )²        (one value per output channel k)

* loss: cross-entropy of the logits on one labelled batch; BatchNorm in train mode;
* layers: every ``Conv1d/Conv2d/Linear`` output (NASLib hooks an identity after each conv/linear);
  a module called several times contributes once per call, as NASLib accumulates;
* aggregation: NASLib broadcasts each channel's value to all weights of that channel and sums
  the per-weight array, so channel ``k`` is counted ``weight[k].numel()`` times (the layer's
  fan-in). ``per_weight=True`` (default) reproduces that; ``per_weight=False`` sums channels only;
* sign: higher is better.

An output that does not reach the loss has gradient 0 and contributes 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.hooks import is_weighted, record_outputs


def channel_fisher(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``0.5 * mean_n (Σ_spatial act * grad)²`` per channel, for (N, C, ...) tensors."""
    g_nk = (act * grad).flatten(2).sum(-1) if act.dim() > 2 else act * grad
    return 0.5 * g_nk.pow(2).mean(0)


@register_proxy(
    "fisher",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Turner et al., BlockSwap: Fisher-guided Block Substitution for Network Compression, "
    "ICLR 2020 (NASLib zero-cost version, Abdelfattah et al., ICLR 2021)",
    batch_size=64,
)
def fisher(model: nn.Module, batch: Batch, per_weight: bool = True) -> float:
    """Summed channel Fisher saliency of every conv/linear output (see the module docstring)."""
    modules = dict(model.named_modules())
    with record_outputs(model, is_weighted) as records:
        loss = F.cross_entropy(model(batch.inputs), batch.targets)
    records = [(name, out) for name, out in records if out.requires_grad]
    if not records or not loss.requires_grad:
        return 0.0
    grads = torch.autograd.grad(loss, [out for _, out in records], allow_unused=True)
    total = 0.0
    for (name, act), grad in zip(records, grads, strict=True):
        if grad is None:
            continue
        weight = modules[name].weight
        scale = weight[0].numel() if per_weight else 1
        total += scale * float(channel_fisher(act.detach(), grad).sum())
    return total
