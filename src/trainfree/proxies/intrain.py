"""InTrain: intrinsic trainability (Zhou, Chen, Wu, Chen, Hu, Cai, CVPR 2026; no official code,
formulas from a paper note that quotes its equations).

One forward and one backward pass at initialisation on synthetic N(0, 1) images with random
labels (paper: 64 images of 64 × 64)::

    γ = Σ_l log PR(C_l),  PR(C) = (tr C)² / ‖C‖_F²     (C_l: centred channel covariance + εI)
    o = Σ_θ min(1, std(∇θ) / (max|∇θ| + ε))            (every parameter tensor; CE loss)
    I = γ · (1 + o) / log(L + 1)                         (L: number of hooked layer outputs)

``intrain`` is ``I``, ``intrain_pr`` is ``γ`` and ``intrain_grad`` is ``o``; all higher-better.

* Activations ``(N, C, H, W)`` become ``(N·H·W, C)`` (channels are dim 1 for any rank ≥ 3);
  centring and Gram matrix in the network's precision, the ``C × C`` covariance (population
  normalisation ``1/n``) and the ratio in float64. On NB201 this differs from an all-float64
  covariance by less than 1e-6 relative (8.4e-7 at worst over every ReLU output of 4 networks)
  and avoids a float64 copy of each 64 × 16 × 64 × 64 map, which dominated InTrain's cost.
  A layer whose centred activations are exactly zero (e.g. the output of an all-``none``
  cell) has PR 1 (total collapse, ``log PR = 0``); the literal ``C + εI`` would instead give
  it the maximum PR ``C``.
* std is the population standard deviation (``correction=0``, so a one-element tensor gives 0
  instead of NaN); parameters without a gradient are skipped.
* Which outputs count as "layers" is not specified by the paper: ``layers`` selects them.
  ``"blocks"`` (default): the elements of the model itself if it is an
  ``nn.Sequential``/``nn.ModuleList``, else of its largest such direct child (the first on
  ties; NB201: its ``3N`` cells and 2 residual blocks, as AZ-NAS's cell features and the
  spec's suggestion), else the model's direct children; ``"relu"``: every ``nn.ReLU`` call;
  ``"weighted"``: every Conv/Linear call. Measured on the first 50 architectures of the fixed
  NB201 sample (BENCHMARKS.md), ``intrain`` Spearman / Kendall on CIFAR-10 and CIFAR-100:
  blocks 0.847 / 0.653 and 0.901 / 0.720, relu 0.804 / 0.603 and 0.852 / 0.667, weighted
  0.814 / 0.616 and 0.856 / 0.669. On all 1000: blocks 0.896 / 0.724 and 0.902 / 0.729,
  relu 0.860 / 0.679 and 0.867 / 0.685 (relu reproduces the paper's Kendall 0.669 / 0.671
  within 0.014; blocks ranks better). With ``"relu"``, ``L`` grows with an architecture's
  convolutions, so ``log(L + 1)`` also penalises convolution-rich cells; with ``"blocks"`` it
  is the same for every NB201 cell.
* BatchNorm in train mode (batch statistics; running statistics left untouched).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import frozen_batchnorm_stats, shared
from trainfree.proxies.hooks import ModuleFilter, call_on_outputs, is_relu, is_weighted

PAPER = (
    "Zhou, Chen, Wu, Chen, Hu, Cai, InTrain: Intrinsic Trainability for Training-Free NAS, "
    "CVPR 2026"
)
DEFAULT_LAYERS = "blocks"
_CONTAINERS = (nn.Sequential, nn.ModuleList)


def block_names(model: nn.Module) -> set[str]:
    """Qualified names of the "blocks" of ``model`` (see the module docstring)."""
    if isinstance(model, _CONTAINERS):
        return {name for name, _ in model.named_children()}
    containers = [(n, c) for n, c in model.named_children() if isinstance(c, _CONTAINERS)]
    if not containers:
        return {name for name, _ in model.named_children()}
    parent, largest = max(containers, key=lambda item: len(item[1]))
    return {f"{parent}.{name}" for name, _ in largest.named_children()}


def layer_filter(model: nn.Module, layers: str) -> ModuleFilter:
    if layers == "relu":
        return is_relu
    if layers == "weighted":
        return is_weighted
    if layers == "blocks":
        names = block_names(model)
        return lambda name, module: name in names
    raise TrainfreeError(f"unknown InTrain layer set {layers!r} (known: relu, weighted, blocks)")


def participation_ratio(activations: torch.Tensor, eps: float = 1e-10) -> float:
    """``(tr C)² / ‖C‖_F²`` of the centred channel covariance ``C + εI`` (1 if constant).

    The data are centred and their Gram matrix formed in the activations' precision (one GEMM
    over the ``N·H·W`` rows, a copy-free view for channels-last maps); the ``C × C`` result is
    then carried in float64. Constant activations are detected exactly (all rows equal).
    """
    if activations.dim() > 2:
        activations = activations.movedim(1, -1)
    x = activations.reshape(-1, activations.shape[-1])
    if bool((x == x[:1]).all()):
        return 1.0
    x = x - x.mean(0)
    cov = (x.T @ x).double() / x.shape[0]
    cov.diagonal().add_(eps)
    return float(cov.trace() ** 2 / cov.square().sum())


def gradient_health(model: nn.Module, eps: float = 1e-10) -> float:
    """``Σ_θ min(1, std(∇θ) / (max|∇θ| + ε))`` over parameters that received a gradient."""
    total = 0.0
    for p in model.parameters():
        if p.grad is None or p.grad.numel() == 0:
            continue
        g = p.grad.detach().double().flatten()
        total += min(1.0, float(g.std(correction=0) / (g.abs().max() + eps)))
    return total


@shared
def intrain_forward(
    model: nn.Module, batch: Batch, layers: str, eps: float
) -> tuple[float, int, torch.Tensor]:
    """``(γ, L, logits)`` of one forward pass with autograd on (BatchNorm on batch statistics,
    running statistics untouched); the logits keep their graph for :func:`intrain_terms`.

    Shared (:func:`~trainfree.proxies.functional.shared`): the InTrain views scored together on
    one network and batch run one forward pass. ``intrain_pr`` runs it with autograd on even
    alone, so that it computes the same thing alone as beside a view that needs gradients.
    """
    log_prs: list[float] = []

    def record(name: str, out: torch.Tensor) -> None:
        log_prs.append(math.log(participation_ratio(out.detach(), eps)))

    select = layer_filter(model, layers)
    model.zero_grad(set_to_none=True)
    with (
        torch.enable_grad(),
        frozen_batchnorm_stats(model),
        call_on_outputs(model, select, record),
    ):
        logits = model(batch.inputs)
    if not log_prs:
        raise TrainfreeError(f"InTrain found no {layers!r} layer output to score")
    return math.fsum(log_prs), len(log_prs), logits


@shared
def intrain_terms(
    model: nn.Module, batch: Batch, layers: str, eps: float
) -> tuple[float, float, int]:
    """``(γ, o, L)``: :func:`intrain_forward`, then one cross-entropy backward pass for ``o``.

    Shared: ``intrain`` and ``intrain_grad`` scored together run one backward pass.
    """
    gamma, depth, logits = intrain_forward(model, batch, layers, eps)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(logits, batch.targets).backward()
    health = gradient_health(model, eps)
    model.zero_grad(set_to_none=True)
    return gamma, health, depth


Combine = Callable[[float, float, int], float]


def _register(name: str, doc: str, combine: Combine, needs_grad: bool) -> Callable[..., float]:
    """Register one view of the InTrain terms as proxy ``name`` (``needs_grad``: it needs ``o``,
    hence the backward pass; ``intrain_pr`` needs only the forward pass, and ``o`` is 0 for it).
    """

    def proxy(
        model: nn.Module, batch: Batch, layers: str = DEFAULT_LAYERS, eps: float = 1e-10
    ) -> float:
        if needs_grad:
            return combine(*intrain_terms(model, batch, layers, eps))
        gamma, depth, _ = intrain_forward(model, batch, layers, eps)
        return combine(gamma, 0.0, depth)

    proxy.__name__ = proxy.__qualname__ = name
    proxy.__doc__ = doc
    return register_proxy(
        name,
        higher_is_better=True,
        data_mode=DataMode.SYNTHETIC,
        paper=PAPER,
        batch_size=64,
        image_size=64,
        train_mode=True,
    )(proxy)


intrain = _register(
    "intrain",
    "InTrain score ``γ (1 + o) / log(L + 1)``.",
    lambda gamma, health, depth: gamma * (1.0 + health) / math.log(depth + 1),
    needs_grad=True,
)
intrain_pr = _register(
    "intrain_pr", "InTrain geometric capacity ``γ`` alone.", lambda g, o, n: g, needs_grad=False
)
intrain_grad = _register(
    "intrain_grad", "InTrain gradient health ``o`` alone.", lambda g, o, n: o, needs_grad=True
)
