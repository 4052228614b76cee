"""Average pooling that excludes padding, computed fast on channels-last CPU tensors.

NAS-Bench-201's and DARTS's ``avg_pool_3x3`` is ``nn.AvgPool2d(3, stride, 1,
count_include_pad=False)``. PyTorch's CPU kernel for that case is slow: on a 2-core Xeon, one
thread, forward + backward of a ``(72, 3, 32, 32)`` channels-last batch took 2.7 + 2.2 ms, against
0.75 + 1.0 ms for the same average as a depthwise convolution with a ones kernel divided by the
number of valid inputs under each window (``(64, 16, 64, 64)``: 10.3 + 13.3 against 6.2 + 6.6 ms;
BENCHMARKS.md). Both sum the same window and divide by the same count, so the values agree to
float rounding. On NCHW tensors the native kernel is faster at the small sizes TE-NAS uses, so
:class:`AvgPool2d` takes the convolution only for channels-last CPU inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _valid_counts(size: int, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Per output position along one axis: how many of its ``kernel`` inputs are not padding."""
    out = (size + 2 * padding - kernel) // stride + 1
    start = torch.arange(out) * stride - padding
    return (start + kernel).clamp(max=size) - start.clamp(min=0)


def _channels_last_cpu(x: torch.Tensor) -> bool:
    if x.dim() != 4 or x.device.type != "cpu":
        return False
    try:
        return x.is_contiguous(memory_format=torch.channels_last)
    except RuntimeError:  # inside torch.func.vmap, which cannot report a memory format
        return False


class AvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` that, for a square kernel without ``ceil_mode`` or ``divisor_override``
    and with ``count_include_pad=False``, averages channels-last CPU inputs by a depthwise
    convolution (see the module docstring). Other inputs and settings use the native kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride, padding = self.kernel_size, self.stride or self.kernel_size, self.padding
        fast = (
            not self.count_include_pad
            and not self.ceil_mode
            and self.divisor_override is None
            and all(isinstance(v, int) for v in (kernel, stride, padding))
            and _channels_last_cpu(x)
        )
        if not fast:
            return super().forward(x)
        channels, height, width = x.shape[1:]
        weight = torch.ones(channels, 1, kernel, kernel, dtype=x.dtype, device=x.device)
        weight = weight.to(memory_format=torch.channels_last)
        total = F.conv2d(x, weight, None, stride, padding, 1, channels)
        rows = _valid_counts(height, kernel, stride, padding)
        cols = _valid_counts(width, kernel, stride, padding)
        return total / (rows[:, None] * cols[None, :]).to(x.device, x.dtype)
