"""ZiCo: zero-shot inverse coefficient of variation of gradients (Li et al., ICLR 2023).

The labelled batch is split into ``splits`` consecutive parts (the official code uses two
batches). For every conv/linear weight element ``θ`` the per-part gradients ``g_1..g_S`` of the
cross-entropy loss give ``mean_s |g_s|`` and the population standard deviation ``std_s g_s``; then::

    score = Σ_layers log( Σ_{θ: std ≠ 0} mean|g| / std )

* layers: the weights of every ``Conv1d/Conv2d/Linear``; a layer whose inner sum is 0 (for
  example all gradients zero) is skipped, as in the official code;
* ``cumulative=True`` (default) reproduces the official ``getzico``, which never zeroes the
  gradients between batches, so part ``s`` contributes the running sum ``g_1 + ... + g_s``;
  ``cumulative=False`` uses each part's own gradient, as the paper's formula reads;
* BatchNorm in train mode: each part is normalised with its own statistics;
* sign: higher is better. A network with all-zero weight gradients scores 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.grasp import prunable_weights, weight_grads


def zico_from_grads(per_part: list[list[torch.Tensor]]) -> float:
    """ZiCo from per-part gradients ``per_part[s][layer]`` (already cumulative if wanted)."""
    total = 0.0
    for layer_grads in zip(*per_part, strict=True):
        g = torch.stack([t.detach().flatten() for t in layer_grads]).double()
        std = g.std(0, unbiased=False)
        nonzero = std != 0
        inner = float((g.abs().mean(0)[nonzero] / std[nonzero]).sum())
        if inner > 0:
            total += math.log(inner)
    return total


@register_proxy(
    "zico",
    higher_is_better=True,
    data_mode=DataMode.LABELLED,
    paper="Li et al., ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients, "
    "ICLR 2023",
    batch_size=128,
)
def zico(model: nn.Module, batch: Batch, splits: int = 2, cumulative: bool = True) -> float:
    """ZiCo over ``splits`` parts of ``batch`` (see the module docstring)."""
    parts = batch.split(splits)
    if splits < 2 or len(parts) < 2:
        raise TrainfreeError(f"zico needs at least 2 non-empty batch parts (splits={splits})")
    weights = prunable_weights(model)
    per_part = []
    for part in parts:
        loss = F.cross_entropy(model(part.inputs), part.targets)
        grads = weight_grads(loss, weights)
        if cumulative and per_part:
            grads = [a + b for a, b in zip(per_part[-1], grads, strict=True)]
        per_part.append(grads)
    return zico_from_grads(per_part)
