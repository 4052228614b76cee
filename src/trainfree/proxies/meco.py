"""MeCo: minimum eigenvalue of feature-map correlation (Jiang et al., NeurIPS 2023).

One real image, one forward pass. For every module call (the official code hooks *every*
module, containers and the network itself included, so a container repeats its last child's
output) the output of the single sample, shaped (C, ...), is reshaped to ``C × L`` (channels by
spatial positions) and::

    meco_l = λ_min( corr(channels) )           score = Σ_l meco_l

* ``meco_opt`` (the paper's faster variant) uses the correlation of 8 channels drawn at random
  (torch's global generator, which the scoring harness seeds) and rescales: ``λ_min · C / 8``;
  a layer with fewer than 8 channels uses all of them;
* undefined correlations (a constant channel) are set to 0, as officially; outputs without a
  spatial extent (``L = 1``, e.g. linear layers and logits) therefore give an all-zero matrix and
  contribute 0, so an MLP scores 0;
* batch: the official script uses batch size 1 with BatchNorm in train mode; with a larger batch
  only its first sample is fed;
* sign: higher is better. A network whose features ignore the input still gets a finite score.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy

_OPT_CHANNELS = 8


def min_eig_corr(features: torch.Tensor) -> float:
    """Smallest eigenvalue of the row correlation matrix of ``features`` (C, L); NaN/inf → 0."""
    corr = torch.corrcoef(features.double()).reshape(len(features), len(features))
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


def layer_meco(output: torch.Tensor, sample_channels: int | None = None) -> float:
    """MeCo term of one module output (N, C, ...), using its first sample."""
    if output.dim() < 2 or output[0].numel() == output.shape[1]:
        return 0.0  # no spatial extent: every correlation is undefined, so the matrix is 0
    features = output[0].detach().reshape(output.shape[1], -1)
    channels = len(features)
    if sample_channels is None or channels <= sample_channels:
        return min_eig_corr(features)
    picked = torch.randperm(channels, device=features.device)[:sample_channels]
    return min_eig_corr(features[picked]) * channels / sample_channels


@contextmanager
def _every_module(model: nn.Module, fn) -> Iterator[list[float]]:
    """Apply ``fn`` to every module's output (first element of a tuple) as soon as it is made."""
    values: list[float] = []

    def hook(module: nn.Module, args: tuple, output: object) -> None:
        if isinstance(output, tuple | list):
            output = output[0]
        if isinstance(output, torch.Tensor):
            values.append(fn(output))

    handles = [module.register_forward_hook(hook) for module in model.modules()]
    try:
        yield values
    finally:
        for handle in handles:
            handle.remove()


def _meco(model: nn.Module, batch: Batch, sample_channels: int | None) -> float:
    with torch.no_grad(), _every_module(model, lambda out: layer_meco(out, sample_channels)) as v:
        model(batch.inputs[:1])
    return float(sum(v))


_PAPER = (
    "Jiang et al., MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum "
    "Eigenvalue of Correlation, NeurIPS 2023"
)


@register_proxy("meco", higher_is_better=True, data_mode=DataMode.INPUTS, paper=_PAPER,
                batch_size=1)  # fmt: skip
def meco(model: nn.Module, batch: Batch) -> float:
    """Σ over module outputs of the minimum eigenvalue of the channel correlation matrix."""
    return _meco(model, batch, None)


@register_proxy("meco_opt", higher_is_better=True, data_mode=DataMode.INPUTS, paper=_PAPER,
                batch_size=1)  # fmt: skip
def meco_opt(model: nn.Module, batch: Batch, channels: int = _OPT_CHANNELS) -> float:
    """MeCo on ``channels`` random channels per layer, rescaled by C / channels."""
    return _meco(model, batch, channels)
