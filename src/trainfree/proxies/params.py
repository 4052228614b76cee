"""Parameter count, the NAS-Bench-Suite-Zero ``params`` baseline (Abdelfattah et al., ICLR 2021).

NASLib reports tensorwatch's parameter count in millions; we report the raw count of trainable
parameters (every module, BatchNorm affine parameters included), which ranks architectures the
same way. No data, no loss, no forward pass; higher is better (bigger networks train to higher
accuracy on NAS-Bench-201).
"""

from __future__ import annotations

from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy


@register_proxy(
    "params",
    higher_is_better=True,
    data_mode=DataMode.FREE,
    paper="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 (baseline)",
    train_mode=False,
)
def params(model: nn.Module, batch: Batch) -> float:
    """Number of trainable parameters of ``model``."""
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))
