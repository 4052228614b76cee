"""NASWOT: log-determinant of the ReLU-code kernel (Mellor et al., ICML 2021), as NASLib's nwot.

NAS-Bench-Suite-Zero (NASLib ``measures/nwot.py``, the paper's second version) hooks every ReLU
module and, for each call, binarises the ReLU's *input* ``c = 1[x > 0]`` (one row of units per
image) and accumulates over all calls::

    K += c cᵀ + (1 − c)(1 − c)ᵀ          (K_ij = units on which images i and j agree)
    score = log |det K|                   (``slogdet``; NASLib keeps the log, drops the sign)

* data: the images of one batch, labels unused; a single forward pass without gradients, with
  BatchNorm in train mode (NASLib); NASLib's batch size is 32 (the paper uses 128);
* layers: ``nn.ReLU`` modules (an in-place ReLU gives the same codes, as ``x > 0`` iff
  ``relu(x) > 0``); a module called several times contributes once per call; a model without
  any ``nn.ReLU`` is refused (NASLib would silently score its zero kernel);
* sign: higher is better.

K counts agreements, so it is an integer matrix: when it is nonsingular its determinant is at
least 1 and the score at least 0. A singular K (two identical images, or a network whose ReLUs
all see constant inputs) has ``log det = −∞`` (NASLib then stores −1e8); it scores
``singular_score`` (default 0.0, "no signal"), below or equal to every nonsingular value.
"""

from __future__ import annotations

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.hooks import call_on_outputs, is_relu


def relu_code_kernel(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The float64 agreement kernel ``Σ c cᵀ + (1 − c)(1 − c)ᵀ`` over every ReLU call."""
    n = inputs.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=inputs.device)

    def accumulate(name: str, pre: torch.Tensor) -> None:
        # (1 − c)(1 − c)ᵀ = U − r_i − r_j + c cᵀ (U units, r row sums): one product, not two
        codes = (pre.reshape(n, -1) > 0).double()
        ones = codes.sum(1)
        kernel.add_(codes @ codes.T, alpha=2.0).sub_(ones[:, None] + ones[None, :])
        kernel.add_(codes.shape[1])

    with torch.no_grad(), call_on_outputs(model, is_relu, accumulate, inputs=True):
        model(inputs)
    return kernel


@register_proxy(
    "naswot",
    higher_is_better=True,
    data_mode=DataMode.INPUTS,
    paper="Mellor et al., Neural Architecture Search without Training, ICML 2021 "
    "(NASLib 'nwot', NAS-Bench-Suite-Zero)",
    batch_size=32,
)
def naswot(model: nn.Module, batch: Batch, singular_score: float = 0.0) -> float:
    """``log det K`` of the ReLU-code kernel of ``batch.inputs``; ``singular_score`` if singular."""
    if not any(is_relu(name, module) for name, module in model.named_modules()):
        raise TrainfreeError("naswot needs nn.ReLU modules to binarise, and the model has none")
    kernel = relu_code_kernel(model, batch.inputs)
    if int(torch.linalg.matrix_rank(kernel)) < kernel.shape[0]:
        return singular_score
    return float(torch.linalg.slogdet(kernel).logabsdet)
