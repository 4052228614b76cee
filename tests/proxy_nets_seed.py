"""Tiny networks and batches shared by the seed-proxy tests (TE-NAS, NEAR, InTrain, GradAlign)."""

from __future__ import annotations

import torch
from torch import nn

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data.batch import Batch


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.relu(self.bn(self.conv(x)))


class TinyResNet(nn.Module):
    """Stem, two residual blocks in a Sequential, pooling and a linear head."""

    def __init__(self, in_channels: int = 3, channels: int = 4, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(Block(channels), Block(channels))
        self.head = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(x.mean((2, 3)))


def tiny_mlp(features: int = 12, classes: int = 5) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(),
        nn.Linear(8, classes),
    )  # fmt: skip


def image_batch(n: int = 8, channels: int = 3, size: int = 8, classes: int = 5) -> Batch:
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(n, channels, size, size, generator=gen)
    return Batch(inputs, torch.randint(0, classes, (n,), generator=gen), classes)


def vector_batch(n: int = 10, features: int = 12, classes: int = 5) -> Batch:
    gen = torch.Generator().manual_seed(2)
    inputs = torch.randn(n, features, generator=gen)
    return Batch(inputs, torch.randint(0, classes, (n,), generator=gen), classes)


def seeded(model_fn, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return model_fn()
