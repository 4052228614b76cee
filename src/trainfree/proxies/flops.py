"""FLOPs of one forward pass, the NAS-Bench-Suite-Zero ``flops`` baseline (Abdelfattah et al.).

NASLib counts with tensorwatch on one input of the batch's shape and reports megaflops; we count
with :class:`torch.utils.flop_counter.FlopCounterMode` (matrix multiplications and convolutions,
2 FLOPs per multiply-accumulate) on ``batch.inputs[:1]``, in eval mode and without gradients, so
the caller's BatchNorm statistics are not touched. Raw count; higher is better.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy


@register_proxy(
    "flops",
    higher_is_better=True,
    data_mode=DataMode.FREE,
    paper="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 (baseline)",
    train_mode=False,
)
def flops(model: nn.Module, batch: Batch) -> float:
    """Floating-point operations of ``model`` on one input shaped like ``batch.inputs[:1]``."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(batch.inputs[:1])
    return float(counter.get_total_flops())
