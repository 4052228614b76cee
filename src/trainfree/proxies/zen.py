"""Zen-score (Lin et al., Zen-NAS, ICCV 2021), as NASLib computes it for NAS-Bench-Suite-Zero.

On a copy of the network re-initialised with N(0, 1) conv/linear weights (zero biases,
BatchNorm weight 1 / bias 0), with BatchNorm in train mode and no gradients::

    x ~ N(0, 1) (the synthetic batch),  x' = x + γ ε,  ε ~ N(0, 1),  γ = 1e-2
    Δ = mean_n Σ_{c,h,w} |f(x)_n − f(x')_n|
    score = log Δ + Σ_BN log sqrt(mean_channels σ²_BN)

* ``f`` is the feature map just before global average pooling: the input of the last
  ``AdaptiveAvgPool1d/2d`` call, else the input of the last conv/linear call (an MLP's classifier),
  else the network output;
* ``σ²_BN`` per BatchNorm layer: ``bn_var="running"`` (default) reproduces NASLib and the official
  Zen-NAS code, which read ``running_var`` after the two forward passes of a freshly initialised
  layer (momentum 0.1: ``0.81 + 0.09 v(x) + 0.1 v(x')``); ``bn_var="batch"`` uses the batch
  variance ``v(x)`` the paper describes;
* ε is drawn from torch's global generator, which the scoring harness seeds;
* sign: higher is better.

Degenerate networks: a zero ``Δ`` (the features ignore the input) or a zero BatchNorm variance
would give ``log 0``; every logarithm is floored at ``log(tiny)`` with ``tiny`` the smallest normal
float32 (about −87.3), so such networks get a very low but finite score.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.hooks import is_weighted, record_outputs

_TINY = torch.finfo(torch.float32).tiny
_BN_MOMENTUM = 0.1
_BN_VARS = ("running", "batch")


def is_batchnorm(name: str, module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def is_global_pool(name: str, module: nn.Module) -> bool:
    return isinstance(module, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d)


@torch.no_grad()
def gaussian_init_(model: nn.Module) -> nn.Module:
    """Zen-NAS/SWAP init: conv and linear weights N(0, 1), zero biases, norm layers 1/0."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd | nn.Linear):
            nn.init.normal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif (
            isinstance(module, nn.modules.batchnorm._NormBase | nn.GroupNorm)
            and module.weight is not None
        ):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def safe_log(value: float) -> float:
    """``log(value)`` floored at ``log(tiny)``; NaN (an undefined variance) also gives the floor."""
    return math.log(value if value > _TINY else _TINY)


def _features_and_bn_vars(
    model: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Pre-pooling features of ``x`` and each BatchNorm call's per-channel batch variance."""
    kinds = {
        name: (is_global_pool(name, m), is_weighted(name, m), is_batchnorm(name, m))
        for name, m in model.named_modules()
    }
    with record_outputs(model, lambda name, m: any(kinds[name]), inputs=True) as records:
        out = model(x)
    pooled = [t for name, t in records if kinds[name][0]]
    weighted = [t for name, t in records if kinds[name][1]]
    features = (pooled or weighted or [out])[-1]
    bn_vars = [t.transpose(0, 1).flatten(1).var(1) for name, t in records if kinds[name][2]]
    return features, bn_vars


@register_proxy(
    "zen",
    higher_is_better=True,
    data_mode=DataMode.SYNTHETIC,
    paper="Lin et al., Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition, ICCV 2021",
    batch_size=64,
)
@torch.no_grad()
def zen(
    model: nn.Module, batch: Batch, mixup_gamma: float = 1e-2, bn_var: str = "running"
) -> float:
    """Zen-score of ``model`` on the Gaussian ``batch`` (see the module docstring)."""
    if bn_var not in _BN_VARS:
        raise TrainfreeError(f"zen: bn_var must be one of {', '.join(_BN_VARS)}, got {bn_var!r}")
    net = gaussian_init_(copy.deepcopy(model))
    x = batch.inputs
    f1, v1 = _features_and_bn_vars(net, x)
    f2, v2 = _features_and_bn_vars(net, x + mixup_gamma * torch.randn_like(x))
    delta = float((f1 - f2).abs().flatten(1).sum(1).mean())
    if bn_var == "running":
        m = _BN_MOMENTUM
        variances = [(1 - m) ** 2 + (1 - m) * m * a + m * b for a, b in zip(v1, v2, strict=True)]
    else:
        variances = v1
    return safe_log(delta) + sum(0.5 * safe_log(float(v.mean())) for v in variances)
