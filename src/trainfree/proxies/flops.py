"""FLOPs of one forward pass, the NAS-Bench-Suite-Zero ``flops`` baseline (Abdelfattah et al.).

NASLib counts with tensorwatch on one input of the batch's shape and reports megaflops; we count
the multiply-accumulates of convolutions and matrix products on ``batch.inputs[:1]``
(:func:`trainfree.complexity.count_macs`, convention ``"conv_linear"``, in eval mode and without
gradients, so the caller's BatchNorm statistics are not touched) and report 2 FLOPs per
multiply-accumulate. Raw count; higher is better.
"""

from __future__ import annotations

from torch import nn

from trainfree.complexity import count_macs
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
    return float(2 * count_macs(model, batch.inputs[:1]))
