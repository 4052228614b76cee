"""Tiny networks and batches shared by the baseline-proxy tests."""

from __future__ import annotations

import torch
from torch import nn

from trainfree.data.batch import Batch
from trainfree.proxies import compute_proxy, get_proxy


class Zero(nn.Module):
    """Multiplies by zero: everything after it ignores the input and gets no gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0


def conv_net(zero_at: int | None = None) -> nn.Module:
    layers = [
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 8, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    ]  # fmt: skip
    if zero_at is not None:
        layers.insert(zero_at, Zero())
    return nn.Sequential(*layers)


def make_batch(n: int = 16, size: int = 8, classes: int = 10, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=gen)
    return Batch(x, torch.randint(0, classes, (n,), generator=gen), classes)


def score(name: str, model: nn.Module, batch: Batch, seed: int = 0, **params) -> float:
    torch.manual_seed(seed)
    return compute_proxy(get_proxy(name), model, batch, **params)
