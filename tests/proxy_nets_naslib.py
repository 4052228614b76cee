"""Tiny networks and batches shared by the NAS-Bench-Suite-Zero proxy tests."""

from __future__ import annotations

import torch
from torch import nn

from trainfree.data.batch import Batch
from trainfree.proxies import compute_proxy, get_proxy


def conv_net(num_classes: int = 5) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, num_classes),
    )


def mlp(num_classes: int = 5) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, num_classes))


class InputIgnoringNet(nn.Module):
    """Output independent of the input and of every conv/linear weight (an all-``none`` cell)."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stem(x).mul(0.0).mean(dim=(2, 3))
        return self.head(features)


def image_batch(n: int = 8, seed: int = 0, size: int = 6, num_classes: int = 5) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, size, size, generator=gen)
    return Batch(inputs, torch.arange(n) % num_classes, num_classes)


def flat_batch(n: int = 8, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 3, 2, 2, generator=gen), torch.arange(n) % 5, 5)


def run(name: str, model: nn.Module, batch: Batch, **params) -> float:
    spec = get_proxy(name)
    return compute_proxy(spec, model.to(spec.dtype), batch.to("cpu", spec.dtype), **params)


def seeded(factory, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return factory()
