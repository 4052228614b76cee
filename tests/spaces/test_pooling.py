"""The convolution form of excluding-padding average pooling equals PyTorch's kernel."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import grad, vmap

from trainfree.spaces.pooling import AvgPool2d


@pytest.mark.parametrize(("stride", "size"), [(1, 8), (1, 7), (2, 8), (2, 7)])
@pytest.mark.parametrize("channels_last", [True, False])
def test_matches_native_average_pool_forward_and_backward(stride, size, channels_last):
    torch.manual_seed(0)
    x = torch.randn(3, 5, size, size) * 4 + 1
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    ours, native = (
        AvgPool2d(3, stride, 1, count_include_pad=False),
        nn.AvgPool2d(3, stride, 1, count_include_pad=False),
    )
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, ref = ours(a), native(b)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    weights = torch.randn_like(ref)
    (out * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-6)
    # the border windows average fewer inputs: a constant image stays constant
    torch.testing.assert_close(ours(torch.ones_like(x)), torch.ones_like(ref))


def test_per_sample_gradients_under_vmap_match():
    x = torch.randn(4, 2, 6, 6).to(memory_format=torch.channels_last)
    pool = AvgPool2d(3, 1, 1, count_include_pad=False)

    def loss(sample: torch.Tensor) -> torch.Tensor:
        return (pool(sample.unsqueeze(0)) ** 2).sum()

    rows = vmap(grad(loss))(x)
    for i in range(len(x)):
        torch.testing.assert_close(rows[i], grad(loss)(x[i]))
