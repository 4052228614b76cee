"""TE-NAS indicators (Chen, Gong, Wang, ICLR 2021; ``VITA-Group/TENAS`` @ 9df78ff).

``tenas_ntk``: condition number of the empirical NTK (paper section 3.1, ``lib/procedures/ntk.py``).
Row ``i`` of ``G`` is the gradient of the sum of sample ``i``'s logits w.r.t. every parameter
whose name contains ``"weight"`` (conv, linear and BatchNorm weights; no biases), computed from
one train-mode forward of the whole batch, so BatchNorm couples the rows exactly as the official
loop of ``B`` backward passes does. ``Θ = G Gᵀ`` and ``κ = λ_max / λ_min`` (``eigvalsh`` in
float64). Lower is better. That exact coupling costs ``B`` backward passes of the whole batch;
``coupled=False`` sends each sample through the network alone (``vmap``, one batched backward;
BatchNorm then uses per-sample statistics), a much cheaper approximation.

* Degenerate NTKs: the official code stores 1e5 when ``κ`` is NaN (``0/0``: an all-``none``
  NB201 cell gives ``G = 0``). Here any numerically singular ``Θ`` (``λ_min ≤ 0`` after the
  eigensolve, e.g. identical rows) scores ``max_condition`` (default 1e5), and finite values
  are clipped to it, so a singular NTK is never ranked better than a merely ill-conditioned one.
  A non-finite gradient raises :class:`NonFiniteScoreError`.
* Initialisation: Kaiming-normal fan_out ("for backward"), applied for real (the official
  launcher silently keeps PyTorch's default: VITA-Group/TENAS, ``prune_launch.py``).
* Network size: the official code computes κ on the NB201 network at ``C=3, N=1`` (its
  ``model_config``), not on the C=16, N=5 evaluation network; the harness asks the
  space for that size through ``build_overrides`` (cell spaces; block spaces scale every width by
  C/16, see :mod:`trainfree.spaces.macro`; an MLP ignores it). The exact
  coupled NTK costs ``B`` backward passes of the whole batch: at full size that was 121 s per
  architecture on a 2-core CPU (3 repeats), against a few seconds at ``C=3, N=1``.

``tenas_lr``: number of linear regions (paper section 3.2, ``linear_region_counter.py``).
Forward-only on a *thin* network (NB201: ``C=1, N=1``, first cell only (``depth=1``), no stem,
1 input channel, the official ``model_config_thin``; requested through ``build_overrides``),
over ``n_batches × samples`` inputs, each a random ``crop × crop`` crop of one randomly chosen
channel of a random image of the batch (official: 3 × 1000 crops of 3 × 3). The crops come from
a generator seeded with ``seed`` (``None``: drawn from the global torch RNG, which the harness
seeds per repeat); each batch of crops is one train-mode forward, as in the official collector.
Every ``nn.ReLU`` call with a 4-D input is hooked (``spatial_only``; ``False`` also hooks 2-D
ReLUs, for MLPs); the post-ReLU outputs of one sample are concatenated and binarised (``> 0``),
and ``R`` is the number of distinct patterns over all samples (``torch.unique`` over rows:
exact, and equal to the official ``Σ_i 1 / #{j : D_ij = 0}`` with the Hamming matrix ``D``,
without its O(n²) memory). Higher is better. Initialisation: Kaiming-normal fan_in ("for
forward").

Models that are not thin: crops need a network whose first convolution (or, in a cell without
convolutions, first BatchNorm) in module order takes one channel. Any other model (a full-width
network the harness could not rebuild thin, an MLP) is fed the batch's own inputs instead, in
one forward, so ``R`` counts distinct patterns among ``len(batch)`` samples and saturates at
the batch size; the thin-network protocol is the meaningful one.

The TE-NAS ranking of an architecture set (rank-sum of ``tenas_ntk`` and ``tenas_lr``) is the
``tenas`` alias in :mod:`trainfree.proxies.ensemble`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import (
    frozen_batchnorm_stats,
    make_generator,
    per_sample_grads,
)
from trainfree.proxies.hooks import call_on_outputs, is_relu

PAPER = (
    "Chen, Gong, Wang, Neural Architecture Search on ImageNet in Four GPU Hours: "
    "A Theoretically Inspired Perspective, ICLR 2021"
)


def condition_number(rows: torch.Tensor, max_condition: float = 1e5) -> float:
    """``λ_max / λ_min`` of ``rows rowsᵀ`` (float64), ``max_condition`` if singular or above."""
    if not bool(torch.isfinite(rows).all()):
        raise NonFiniteScoreError("the NTK gradients contain NaN or inf")
    rows = rows.double()
    eigenvalues = torch.linalg.eigvalsh(rows @ rows.T)
    low, high = float(eigenvalues[0]), float(eigenvalues[-1])
    if low <= 0.0:
        return max_condition
    return min(high / low, max_condition)


@register_proxy(
    "tenas_ntk",
    higher_is_better=False,
    data_mode=DataMode.INPUTS,
    paper=PAPER + " (NTK condition number)",
    default_init="kaiming_normal_fan_out",
    batch_size=72,
    repeats=3,
    train_mode=True,
    build_overrides={"C": 3, "N": 1},
)
def tenas_ntk(
    model: nn.Module,
    batch: Batch,
    max_condition: float = 1e5,
    chunk_size: int | None = 8,
    coupled: bool = True,
) -> float:
    """Condition number of the empirical NTK of the ``"weight"`` parameters on ``batch``."""
    rows = per_sample_grads(
        model,
        batch.inputs,
        batch.targets,
        lambda logits, _: logits.flatten(1).sum(1),
        params="weight",
        chunk_size=chunk_size,
        coupled=coupled,
    )
    return condition_number(rows, max_condition)


def expected_channels(model: nn.Module) -> int | None:
    """Channels the first convolution or BatchNorm (in module order) expects; None without one."""
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
        if isinstance(module, _BatchNorm):
            return module.num_features
    return None


def single_channel_crops(
    images: torch.Tensor, n: int, crop: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` random ``crop × crop`` crops, each of one random channel of a random image."""
    source = images.detach().cpu()
    b, c, h, w = source.shape
    if crop > min(h, w):
        raise TrainfreeError(f"tenas_lr crop {crop} exceeds the image size {h}x{w}")
    index = torch.randint(0, b, (n,), generator=generator)
    channel = torch.randint(0, c, (n,), generator=generator)
    top = torch.randint(0, h - crop + 1, (n,), generator=generator)
    left = torch.randint(0, w - crop + 1, (n,), generator=generator)
    offsets = torch.arange(crop)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    picked = source[index, channel]  # (n, h, w)
    sample = torch.arange(n)[:, None, None]
    return picked[sample, rows, cols].unsqueeze(1).to(images.device)


def relu_patterns(model: nn.Module, inputs: torch.Tensor, spatial_only: bool) -> torch.Tensor:
    """Boolean ``(n, M)`` matrix: which post-ReLU units are positive, per sample."""
    parts: list[torch.Tensor] = []

    def keep(name: str, out: torch.Tensor) -> None:
        if out.dim() == 4 or not spatial_only:
            parts.append(out.reshape(out.shape[0], -1) > 0)

    with call_on_outputs(model, is_relu, keep):
        model(inputs)
    if not parts:
        hint = "; pass spatial_only=False for a model without convolutions" if spatial_only else ""
        raise TrainfreeError(f"tenas_lr found no ReLU call to record{hint}")
    return torch.cat(parts, dim=1)


def count_patterns(patterns: torch.Tensor) -> int:
    """Number of distinct rows of a boolean ``(n, M)`` matrix."""
    return int(torch.unique(patterns.to(torch.uint8), dim=0).shape[0])


@register_proxy(
    "tenas_lr",
    higher_is_better=True,
    data_mode=DataMode.INPUTS,
    paper=PAPER + " (number of linear regions)",
    default_init="kaiming_normal_fan_in",
    batch_size=1000,
    repeats=3,
    train_mode=True,
    build_overrides={"C": 1, "N": 1, "depth": 1, "stem": False, "in_channels": 1},
)
def tenas_lr(
    model: nn.Module,
    batch: Batch,
    samples: int = 1000,
    n_batches: int = 3,
    crop: int = 3,
    seed: int | None = None,
    spatial_only: bool = True,
) -> float:
    """Distinct ReLU activation patterns of the (thin) network (see the module docstring)."""
    images = batch.inputs
    thin = images.dim() == 4 and expected_channels(model) == 1
    if thin:
        generator = make_generator(seed)
        feeds = [single_channel_crops(images, samples, crop, generator) for _ in range(n_batches)]
    else:
        feeds = [images]
    with torch.inference_mode(), frozen_batchnorm_stats(model):
        patterns = torch.cat([relu_patterns(model, x, spatial_only) for x in feeds])
    return float(count_patterns(patterns))
