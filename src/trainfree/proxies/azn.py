"""AZ-NAS's four proxies (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network
Architecture Search", CVPR 2024; official code ``cvlab-yonsei/AZ-NAS``,
``NB201/ZeroShotProxy/compute_az_nas_score.py`` and ``NB201/tss_general.ipynb``).

One forward pass records the *cell features* ``f_0..f_L`` (NB201: the stem's output, then the
output of each of the ``3N`` cells and 2 residual blocks, ``L = 17``), then::

    E_l = H(eig(Σ_l) / Σ eig(Σ_l)),   Σ_l = centred channel covariance of f_l over (B, H, W)
    expressivity  = Σ_l E_l                       (isotropy of each feature's eigen-spectrum)
    progressivity = min_l (E_l − E_{l−1})         (the smallest increase between blocks)
    trainability  = mean_l (2 − s_l − 1 / (s_l + 1e-6)),   l = L..1
    complexity    = FLOPs

``H(p) = −Σ p log(p + 1e-8)`` (the official ``1e-8``). For trainability, a Rademacher
cotangent ``g_out`` on ``f_l`` is pulled back through block ``l`` to ``g_in = (∂f_l/∂f_{l-1})ᵀ
g_out``; when the block halves the resolution, ``g_in`` is pixel-unshuffled to ``g_out``'s
size; ``s_l`` is the largest singular value of ``g_inᵀ g_out / (B·H·W)`` (rows: positions,
columns: channels), an estimate of the block Jacobian's spectral norm, and the term is 0 at
``s_l = 1`` and negative elsewhere. AZ-NAS ranks each of the four over the population and sums
``log(rank / N)`` (:data:`trainfree.proxies.ensemble.NAMED_ENSEMBLES` ``azn``). All four are
higher-is-better.

Settings, as the official NB201 notebook: Gaussian N(0, 1) inputs (``az_nas`` is not among its
real-input proxies), batch 64 at the dataset's resolution (32 for CIFAR), Kaiming-normal fan-in
init with normalisation layers at weight 1 / bias 0, BatchNorm on batch statistics (the
notebook builds it with ``track_running_stats=0``; here train mode with the running statistics
untouched). Complexity: the notebook takes NB201's FLOPs from the benchmark API; here
:func:`trainfree.proxies.flops.flops` counts them on the network itself (convolutions and
matrix products; the ranking is what enters AZ-NAS).

Where the official code yields NaN or −inf, a finite value is stored instead:

* Eigenvalues are computed in float64 from the float32 Gram matrix and clamped at 0 (float32
  rounding can make a small one negative, and the official ``log`` of a negative number turns
  the whole expressivity into NaN, stored by the notebook as −inf).
* A feature with an all-zero covariance (a cell whose output ignores its input, e.g. only
  ``none`` edges into node 3) has entropy 0 (official: NaN, hence −inf).
* A block whose pulled-back cotangent equals ``g_out`` exactly is an identity map (a cell whose
  only path is ``skip_connect``); the official code scores that term −inf, which puts every
  such network last in trainability. Here the term is :data:`IDENTITY_TERM`, lower than any
  finite term (each is at least ``2 − s − 1/(s + 1e-6)``, above −1e6 for ``s ≤ 1e5``), so
  these networks tie last all the same.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.flops import flops
from trainfree.proxies.functional import (
    frozen_batchnorm_stats,
    make_generator,
    shared,
)
from trainfree.proxies.hooks import call_on_outputs
from trainfree.proxies.intrain import block_names

PAPER = "Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024"
IDENTITY_TERM = -1e12
ENTROPY_EPS = 1e-8
SPECTRAL_EPS = 1e-6


def feature_names(model: nn.Module) -> list[str]:
    """AZ-NAS's cell features: the model's ``stem`` (if it has one), then its blocks
    (:func:`trainfree.proxies.intrain.block_names`, NB201: the 17 cells and residual blocks)."""
    names = sorted(block_names(model), key=_call_order(model))
    if hasattr(model, "stem"):
        names.insert(0, "stem")
    return names


def _call_order(model: nn.Module) -> Callable[[str], int]:
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    return lambda name: order[name]


def spectral_entropy(feature: torch.Tensor) -> float:
    """``H`` of the normalised eigenvalues of the channel covariance of ``feature`` (B, C, ...).

    Positions of all samples are the rows; the Gram matrix is formed in the feature's precision
    and its eigenvalues in float64, clamped at 0. An all-zero spectrum has entropy 0.
    """
    x = feature.detach().movedim(1, -1).reshape(-1, feature.shape[1])
    x = x - x.mean(0)
    sigma = (x.T @ x).double() / x.shape[0]
    eig = torch.linalg.eigvalsh(sigma).clamp(min=0.0)
    total = eig.sum()
    if float(total) <= 0.0:
        return 0.0
    p = eig / total
    return float(-(p * torch.log(p + ENTROPY_EPS)).sum())


def jacobian_term(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float:
    """``2 − s − 1/(s + 1e-6)`` for block ``f_in -> f_out`` (:data:`IDENTITY_TERM` if identity).

    ``f_out`` must be computed from ``f_in`` with autograd; its graph is freed afterwards.
    """
    g_out = torch.randint(0, 2, f_out.shape, generator=generator).to(f_out) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, g_out, allow_unused=True, materialize_grads=True)
    if g_in.shape == g_out.shape and bool(torch.equal(g_in, g_out)):
        return IDENTITY_TERM
    if g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    rows = g_out.shape[0] * g_out.shape[2] * g_out.shape[3]
    a = g_in.movedim(1, -1).reshape(rows, -1)
    b = g_out.movedim(1, -1).reshape(rows, -1)
    s = float(torch.linalg.svdvals((a.T @ b).double() / rows).max())
    return 2.0 - s - 1.0 / (s + SPECTRAL_EPS)


@shared
def azn_forward(model: nn.Module, batch: Batch) -> tuple[tuple[float, ...], list[torch.Tensor]]:
    """The cell features' spectral entropies, and the features themselves with their autograd
    graph (for :func:`azn_trainability`), from one forward pass.

    Shared (:func:`~trainfree.proxies.functional.shared`): the AZ-NAS proxies scored together
    on one network and batch run one forward pass; it always records the graph, so a proxy
    computes the same value alone as beside ``az_trainability``.
    """
    names = feature_names(model)
    features: dict[str, torch.Tensor] = {}

    def record(name: str, out: torch.Tensor) -> None:
        features[name] = out

    select = lambda name, module: name in names  # noqa: E731
    with torch.enable_grad(), frozen_batchnorm_stats(model), call_on_outputs(model, select, record):
        model(batch.inputs)
    if len(features) != len(names) or len(names) < 2:
        raise TrainfreeError("AZ-NAS needs at least two cell features (a stem and blocks)")
    chain = [features[name] for name in names]
    return tuple(spectral_entropy(f) for f in chain), chain


@shared
def azn_trainability(model: nn.Module, batch: Batch) -> float:
    """Mean of :func:`jacobian_term` over the blocks, last to first (frees the forward graph)."""
    _, chain = azn_forward(model, batch)
    generator = make_generator(None)
    with torch.enable_grad(), frozen_batchnorm_stats(model):
        terms = [jacobian_term(f_in, f_out, generator)
                 for f_in, f_out in reversed(list(itertools.pairwise(chain)))]  # fmt: skip
    return _finite(math.fsum(terms) / len(terms))


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise NonFiniteScoreError(f"an AZ-NAS term is not finite ({value})")
    return value


#: The official NB201 notebook's scoring settings (VKDNW's code inherits them).
NOTEBOOK_SETTINGS = MappingProxyType(
    dict(
        higher_is_better=True,
        data_mode=DataMode.SYNTHETIC,
        default_init="kaiming_normal_fan_in",
        batch_size=64,
        train_mode=True,
    )
)
_SETTINGS = dict(NOTEBOOK_SETTINGS, paper=PAPER)


@register_proxy("az_expressivity", **_SETTINGS)
def az_expressivity(model: nn.Module, batch: Batch) -> float:
    """AZ-NAS expressivity: the summed spectral entropy of the cell features."""
    return _finite(math.fsum(azn_forward(model, batch)[0]))


@register_proxy("az_progressivity", **_SETTINGS)
def az_progressivity(model: nn.Module, batch: Batch) -> float:
    """AZ-NAS progressivity: the smallest entropy increase from one cell feature to the next."""
    entropies = azn_forward(model, batch)[0]
    return _finite(min(b - a for a, b in itertools.pairwise(entropies)))


@register_proxy("az_trainability", **_SETTINGS)
def az_trainability(model: nn.Module, batch: Batch) -> float:
    """AZ-NAS trainability: the mean spectral-norm term of the block Jacobians."""
    return azn_trainability(model, batch)


@register_proxy("az_complexity", **_SETTINGS)
def az_complexity(model: nn.Module, batch: Batch) -> float:
    """AZ-NAS complexity: the FLOPs of one forward pass (:func:`trainfree.proxies.flops.flops`),
    counted on the same network as the other AZ-NAS proxies."""
    with frozen_batchnorm_stats(model):
        return flops(model, batch)
