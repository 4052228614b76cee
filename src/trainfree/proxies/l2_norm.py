"""Weight norm, the NAS-Bench-Suite-Zero ``l2_norm`` baseline (Abdelfattah et al., ICLR 2021).

NASLib (``measures/l2_norm.py``) sums the Frobenius (L2) norm of each conv/linear weight tensor,
``Σ_layers ‖θ_l‖₂`` (not squared; biases and BatchNorm excluded), on the network itself with no
data. Under a fixed initialisation scheme it mostly measures how many and how wide the weighted
layers are. Higher is better.
"""

from __future__ import annotations

from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.proxies.saliency import prunable_weights


@register_proxy(
    "l2_norm",
    higher_is_better=True,
    data_mode=DataMode.FREE,
    paper="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 (baseline)",
    train_mode=False,
)
def l2_norm(model: nn.Module, batch: Batch) -> float:
    """``Σ_layers ‖θ_l‖₂`` over the conv/linear weights of ``model``."""
    return float(sum(float(w.detach().norm()) for w in prunable_weights(model)))
