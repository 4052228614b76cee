"""Multiply-accumulates (MACs), FLOPs and parameters of a built network for one input.

Neutral ground between spaces and proxies: both may import this module. Counts are exact
integers for a batch of one input.

Two counting conventions, because benchmarks publish different ones:

* ``"conv_linear"``: MACs of convolutions and matrix products only (counted by
  :class:`torch.utils.flop_counter.FlopCounterMode`, so functional calls count too; biases,
  normalisation, activations, pooling and element-wise sums are free). This is what
  NAS-Bench-Macro and Channel-Bench-Macro call ``flops`` (their ``count_FLOPs``: ``Conv2d``
  and ``Linear`` only) and what the ``flops`` proxy counts (times 2).
* ``"thop"``: the counts of thop 0.1.1 (``thop.profile``, used by Accel-NASBench): the above
  plus ``2 * numel`` of every BatchNorm input (``4 * numel`` when affine), ``(k + 1)`` per output
  of an adaptive average pool of window ``k`` and one per output of a fixed average pool;
  activations, dropout and element-wise products (squeeze-and-excitation scaling, residual sums)
  are free, as in thop.

``flops`` is always ``2 * macs`` (one multiply and one add per MAC); mobile-network papers that
say "FLOPs" usually mean MACs. ``params`` counts every parameter (trainable or not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trainfree.errors import TrainfreeError

CONVENTIONS: tuple[str, ...] = ("conv_linear", "thop")


@dataclass(frozen=True)
class Complexity:
    """MACs and parameters of a network for one input; ``flops`` is ``2 * macs``."""

    macs: int
    params: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def __add__(self, other: Complexity) -> Complexity:
        return Complexity(self.macs + other.macs, self.params + other.params)

    def as_dict(self) -> dict[str, int]:
        return {"macs": self.macs, "flops": self.flops, "params": self.params}


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise TrainfreeError(
            f"unknown counting convention {convention!r} (known: {', '.join(CONVENTIONS)})"
        )


def _thop_extra(module: nn.Module, inputs: torch.Tensor, output: torch.Tensor) -> int:
    """thop 0.1.1's count for the modules it charges beyond convolutions and linear layers."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return inputs.numel() * (4 if module.affine else 2)
    if isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
        window = 1
        for size_in, size_out in zip(inputs.shape[2:], output.shape[2:], strict=True):
            window *= size_in / size_out
        return int((window + 1) * output.numel())
    if isinstance(module, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return output.numel()
    return 0


def count_macs(model: nn.Module, inputs: torch.Tensor, *, convention: str = "conv_linear") -> int:
    """MACs of ``model(inputs)`` (a batch of one, normally), under ``convention``.

    Runs one forward pass in eval mode without gradients (training mode and BatchNorm running
    statistics are left as they were). ``inputs`` may live on the ``meta`` device, with a model
    built there, to count without computing.
    """
    _check_convention(convention)
    extra = [0]
    handles = []
    if convention == "thop":

        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            extra[0] += _thop_extra(module, args[0], output)

        handles = [m.register_forward_hook(hook) for m in model.modules()]
    training = model.training
    counter = FlopCounterMode(display=False)
    try:
        model.eval()
        with torch.no_grad(), counter:
            model(inputs)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return counter.get_total_flops() // 2 + extra[0]


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model`` (every parameter, shared ones once)."""
    return sum(p.numel() for p in model.parameters())


def count_complexity(
    model: nn.Module, input_shape: Sequence[int], *, convention: str = "conv_linear"
) -> Complexity:
    """MACs and parameters of ``model`` for one input of ``input_shape`` (batch dimension
    included, normally 1), on the model's device (``meta`` counts without computing)."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    inputs = torch.zeros(tuple(input_shape), device=device)
    return Complexity(count_macs(model, inputs, convention=convention), count_params(model))


def meta_complexity(
    make: Callable[[], nn.Module], input_shape: Sequence[int], *, convention: str = "conv_linear"
) -> Complexity:
    """:func:`count_complexity` of the network ``make()`` built on the ``meta`` device: shapes
    only, no memory for weights and no arithmetic."""
    with torch.device("meta"):
        model = make()
    return count_complexity(model, input_shape, convention=convention)
