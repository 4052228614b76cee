"""SWAP-Score: sample-wise activation patterns (Peng et al., SWAP-NAS, ICLR 2024).

On a copy of the network re-initialised with N(0, 1) weights (the official
``network_weight_gaussian_init``), with BatchNorm in train mode (the official script never calls
``eval``) and no gradients:

* the outputs of every ``nn.ReLU`` call are flattened per sample and concatenated into an
  ``N × U`` matrix (samples by post-activation units) and binarised with ``sign``;
* the score is the number of distinct rows of its transpose, i.e. of distinct patterns a unit
  shows across the N samples (at most ``min(U, 2^N)``); the official batch is 16 images.

The official code hooks only ReLUs with 4-D inputs (a CNN); here every ReLU counts, so MLPs get a
score too (for CNNs whose classifier has no ReLU the two coincide). The official script averages
32 re-initialisations; use the harness's ``repeats`` for that. A network without ReLUs is an
error, not a score.

``swap_reg`` multiplies by the parameter-count prior of the paper's regularised SWAP-Score,
``exp(−(P − μ)² / σ)``, where the official ``cal_regular_factor`` measures P in thousands of
parameters and leaves μ and σ to the user. Here ``P``, ``mu`` and ``sigma`` are in millions of
parameters; the defaults μ = σ = 1.5 (a mild prior towards NB201's largest cells) are an open
choice, not published values: set them for your space.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import shared
from trainfree.proxies.hooks import is_relu, record_outputs
from trainfree.proxies.zen import gaussian_init_


def count_patterns(activations: torch.Tensor) -> int:
    """Distinct sign patterns of the columns of ``activations`` (N samples × U units)."""
    if activations.numel() == 0:
        return 0
    return int(torch.unique(activations.sign().T, dim=0).shape[0])


@torch.no_grad()
def activation_matrix(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Post-ReLU outputs of ``inputs`` concatenated per sample, (N, U).

    A network without ReLU calls has no activation pattern to count: a :class:`TrainfreeError`
    says so (rather than a score of 0 that would rank it last)."""
    with record_outputs(model, is_relu) as records:
        model(inputs)
    if not records:
        raise TrainfreeError(
            "swap counts ReLU activation patterns, and this network calls no ReLU "
            "(choose a proxy that does not rely on ReLUs, e.g. zico or synflow)"
        )
    return torch.cat([out.reshape(len(inputs), -1) for _, out in records], dim=1)


@shared
def swap_patterns(model: nn.Module, batch: Batch, gaussian_init: bool) -> int:
    """SWAP's pattern count on a copy of ``model`` (re-initialised if ``gaussian_init``); shared
    (:func:`~trainfree.proxies.functional.shared`) by ``swap`` and ``swap_reg``."""
    net = copy.deepcopy(model)
    if gaussian_init:
        gaussian_init_(net)
    return count_patterns(activation_matrix(net, batch.inputs))


def regular_factor(num_params: int, mu: float, sigma: float) -> float:
    """``exp(−(P − mu)² / sigma)`` with P, mu and sigma in millions of parameters."""
    if sigma <= 0:
        raise TrainfreeError(f"swap_reg: sigma must be positive, got {sigma}")
    return math.exp(-((num_params / 1e6 - mu) ** 2) / sigma)


_PAPER = "Peng et al., SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS, ICLR 2024"


@register_proxy("swap", higher_is_better=True, data_mode=DataMode.INPUTS, paper=_PAPER,
                batch_size=16)  # fmt: skip
def swap(model: nn.Module, batch: Batch, gaussian_init: bool = True) -> float:
    """Number of distinct sample-wise activation patterns of the ReLU units."""
    return float(swap_patterns(model, batch, gaussian_init))


@register_proxy("swap_reg", higher_is_better=True, data_mode=DataMode.INPUTS, paper=_PAPER,
                batch_size=16)  # fmt: skip
def swap_reg(
    model: nn.Module, batch: Batch, mu: float = 1.5, sigma: float = 1.5, gaussian_init: bool = True
) -> float:
    """SWAP-Score times the parameter-count prior ``exp(−(P − mu)² / sigma)`` (P in millions)."""
    num_params = sum(p.numel() for p in model.parameters())
    return swap(model, batch, gaussian_init) * regular_factor(num_params, mu, sigma)
