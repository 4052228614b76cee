"""VKDNW: Variance of Knowledge of Deep Network Weights (Týbl & Neumann, CVPR 2025; official code
``ondratybl/VKDNW``, ``NB201/ZeroShotProxy/compute_vkdnw_score.py``).

The empirical Fisher information of the network's predictive distribution, restricted to a few
weights, and the entropy of its spectrum::

    A_n = L_n J_n,   F = (1/B) Σ_n A_nᵀ A_n              (B images, each alone through the net)
    q_1..q_9 = deciles 0.1, ..., 0.9 of the eigenvalues of F
    VKDNW = −Σ_k q̃_k log(q̃_k + 1e-10),   q̃ = q / (Σ q + 1e-10)
    vkdnw = ℵ + VKDNW                                     (the paper's VKDNW_single)

* ``J_n`` (K × P): Jacobian of image ``n``'s logits w.r.t. the first element of each of the
  first ``tensors`` (128) parameter tensors (the official ``p=1`` evenly spaced index per tensor
  is index 0; ``params_grad_len=128``), one row per image (:func:`first_weight_jacobian`).
* BatchNorm: the official ``get_fisher`` switches the freshly built network to ``eval()``, and
  the NB201 notebook builds its BatchNorms with running statistics (xautodl's default), so
  every BatchNorm is the fixed affine map of its initial running statistics (mean 0,
  variance 1), for the Jacobians and for the logits alike. The proxy is registered in eval
  mode to match; ``vkdnw`` scored in train mode would normalise each image with its own
  statistics (the per-image ``functional_call`` of the official code; here
  :func:`per_sample_batchnorm`).
* ``L_n`` (K × K): the lower-triangular factor with ``L Lᵀ = diag(p) − p pᵀ`` of the smoothed
  softmax ``p = (1 − α) softmax(z_n) + α / K``, ``α = 0.05`` (Tanabe & Sagae 1992), ``z`` the
  logits of one forward of the whole batch. The official code multiplies ``L J`` (so ``F``
  holds ``Jᵀ Lᵀ L J``); we do the same.
* Eigenvalues: singular values of ``F`` (symmetric positive semi-definite) in float64.
* ``ℵ``: the number of trainable parameter tensors (the official ``vkdnw_dim``; the paper's
  "number of trainable layers"). On NB201 it grows by 45 with each convolution edge of the
  cell and VKDNW lies in ``[0, log 9]``, so ``vkdnw`` ranks by ℵ first and breaks ties by
  VKDNW, as the authors' lexicographic rank of ``(vkdnw_dim, vkdnw_entropy)`` does.
  ``vkdnw_entropy`` is VKDNW alone.
* Settings as the official NB201 code: Gaussian N(0, 1) inputs, batch 64, Kaiming-normal fan-in
  init.

Higher is better for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from trainfree.data.batch import Batch
from trainfree.errors import NonFiniteScoreError
from trainfree.proxies.azn import NOTEBOOK_SETTINGS
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import frozen_batchnorm_stats, shared

PAPER = (
    "Týbl & Neumann, Training-free Neural Architecture Search through Variance of Knowledge "
    "of Deep Network Weights, CVPR 2025"
)
ALPHA = 0.05
DECILES = tuple(k / 10 for k in range(1, 10))
EPS = 1e-10


def covariance_factor(logits: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """``(B, K, K)`` lower-triangular ``L`` with ``L Lᵀ = diag(p) − p pᵀ`` for each row's
    smoothed softmax ``p = (1 − α) softmax + α / K``."""
    p = torch.softmax(logits.double(), dim=1) * (1 - alpha) + alpha / logits.shape[1]
    q = 1 - p.cumsum(dim=1)  # q_j = Σ_{i > j} p_i
    q[:, -1] = 0.0
    q_prev = torch.cat([torch.ones_like(q[:, :1]), q[:, :-1]], dim=1)
    d = torch.sqrt(p * q / q_prev)
    ratio = torch.where(q > 0, 1 / q, torch.zeros_like(q))
    lower = -p.unsqueeze(2) * ratio.unsqueeze(1)  # (i, j): −p_i / q_j
    eye = torch.eye(p.shape[1], dtype=p.dtype)
    lower = torch.tril(lower, diagonal=-1) + eye
    return lower * d.unsqueeze(1)


def spectrum_entropy(eigenvalues: torch.Tensor) -> float:
    """VKDNW: entropy of the normalised deciles 0.1..0.9 of ``eigenvalues``."""
    q = torch.quantile(eigenvalues.double(), torch.tensor(DECILES, dtype=torch.float64))
    q = q / (q.abs().sum() + EPS)
    return float(-(q * torch.log(q + EPS)).sum())


@contextmanager
def per_sample_batchnorm(model: nn.Module) -> Iterator[None]:
    """Train-mode BatchNorm2d layers normalise each sample with its own statistics (instance
    normalisation with the layer's affine weights): the batch then goes through the network
    exactly as each sample alone would, as under ``vmap`` over single samples."""
    patched = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.training]

    def alone(module: nn.BatchNorm2d) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: F.instance_norm(x, weight=module.weight, bias=module.bias,
                                         eps=module.eps)  # fmt: skip

    for module in patched:
        module.forward = alone(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


def _unit_parameters(module: nn.Module, attr: str) -> dict[str, torch.Tensor]:
    """``module``'s own parameters with ``attr`` set to the unit vector of its element 0 and
    the others to 0: for a module ``out = A(x) w + b`` (conv, linear, affine normalisation)
    its output is then ``∂out/∂attr[0]``."""
    values = {}
    for name, param in module.named_parameters(recurse=False):
        value = torch.zeros_like(param.detach())
        if name == attr:
            value[(0,) * value.dim()] = 1.0
        values[name] = value
    return values


def first_weight_jacobian(model: nn.Module, inputs: torch.Tensor, tensors: int) -> torch.Tensor:
    """``(B, K, P)``: per-image Jacobian of the logits w.r.t. the first element of each of the
    first ``tensors`` trainable parameter tensors (``P = min(tensors, #tensors)``).

    Each image gets its own copy ``θ_j + δ_nj`` of each selected element: a forward hook on the
    module owning parameter ``j`` adds ``δ_nj · ∂out_n/∂θ_j`` (:func:`_unit_parameters`;
    exact for the modules that own parameters here, whose outputs are affine in each of their
    parameters). With every BatchNorm per sample
    (:func:`per_sample_batchnorm`), one backward pass per logit gives ``∂z_nk/∂δ_nj`` for all
    images at once, without a per-sample loop or ``vmap``.
    """
    owners = {name: module for name, module in model.named_modules()}
    selected = [n for n, p in model.named_parameters() if p.requires_grad][:tensors]
    delta = torch.zeros(len(inputs), len(selected), dtype=inputs.dtype, requires_grad=True)
    by_module: dict[str, list[tuple[int, str]]] = {}
    for j, name in enumerate(selected):
        module_name, _, attr = name.rpartition(".")
        by_module.setdefault(module_name, []).append((j, attr))
    busy: set[str] = set()

    def make_hook(module_name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor | None:
            if module_name in busy:
                return None
            busy.add(module_name)
            try:
                for j, attr in by_module[module_name]:
                    tangent = functional_call(module, _unit_parameters(module, attr), args)
                    out = out + delta[:, j].view(-1, *([1] * (out.dim() - 1))) * tangent
            finally:
                busy.discard(module_name)
            return out

        return hook

    handles = [owners[m].register_forward_hook(make_hook(m)) for m in by_module]
    try:
        with torch.enable_grad(), frozen_batchnorm_stats(model), per_sample_batchnorm(model):
            logits = model(inputs)
            rows = [torch.autograd.grad(logits[:, k].sum(), delta, retain_graph=True,
                                        allow_unused=True, materialize_grads=True)[0]
                    for k in range(logits.shape[1])]  # fmt: skip
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(rows, dim=1)


@shared
def vkdnw_terms(model: nn.Module, batch: Batch, tensors: int) -> tuple[float, int]:
    """``(VKDNW, ℵ)`` of ``model`` on ``batch`` (shared by ``vkdnw`` and ``vkdnw_entropy``)."""
    with torch.no_grad(), frozen_batchnorm_stats(model):
        factor = covariance_factor(model(batch.inputs))
    jacobian = first_weight_jacobian(model, batch.inputs, tensors).double()
    a = factor @ jacobian
    fisher = (a.transpose(1, 2) @ a).mean(dim=0)
    if not bool(torch.isfinite(fisher).all()):
        raise NonFiniteScoreError("VKDNW: the Fisher information contains NaN or inf")
    entropy = spectrum_entropy(torch.linalg.svdvals(fisher))
    count = sum(1 for p in model.parameters() if p.requires_grad)
    if not math.isfinite(entropy):
        raise NonFiniteScoreError("VKDNW: the spectrum entropy is not finite")
    return entropy, count


_SETTINGS = dict(NOTEBOOK_SETTINGS, paper=PAPER, train_mode=False)  # get_fisher's eval()


@register_proxy("vkdnw", **_SETTINGS)
def vkdnw(model: nn.Module, batch: Batch, tensors: int = 128) -> float:
    """VKDNW_single: ``ℵ + VKDNW`` (number of trainable tensors plus the spectrum entropy)."""
    entropy, count = vkdnw_terms(model, batch, tensors)
    return count + entropy


@register_proxy("vkdnw_entropy", **_SETTINGS)
def vkdnw_entropy(model: nn.Module, batch: Batch, tensors: int = 128) -> float:
    """VKDNW alone: the entropy of the Fisher spectrum's deciles."""
    return vkdnw_terms(model, batch, tensors)[0]
