"""Test-only space and proxies (every name starts with ``test_``), importable by worker processes.

``test_tiny`` architectures ``t<k>`` are two-layer MLPs with ``k + 1`` hidden units; ``boom``
raises in its forward pass and ``hang`` sleeps for 30 s in it. ``test_sum`` is the sum of the
network's outputs on the batch (a deterministic function of the seed and the architecture);
``test_slow`` is the same after a short sleep, so a run lasts long enough to be killed;
``test_lower`` is the same declared lower-is-better.
"""

from __future__ import annotations

import random
import re
import time

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.proxies.base import register_proxy
from trainfree.run.runner import score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import SearchSpace, register_space
from trainfree.spaces.base import InvalidArchError

CONFIG = ScoreConfig(dataset="synthetic", batch_size=4, image_size=4)
ARCHS = [f"t{k}" for k in range(16)]


class _Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom: this network cannot run")


class _Hangs(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(30)
        return x


@register_space
class TinySpace(SearchSpace):
    """Test-only MLPs t<k> plus the broken networks 'boom' and 'hang'."""

    name = "test_tiny"

    def canonical(self, arch: str) -> str:
        if arch in ("boom", "hang") or re.fullmatch(r"t\d+", arch):
            return arch
        raise InvalidArchError(f"not a test_tiny architecture: {arch!r}")

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        return [f"t{k}" for k in random.Random(seed).sample(range(100), n)]

    def mutate(self, arch: str, rng: random.Random) -> str:
        return rng.choice(self.neighbours(arch))

    def neighbours(self, arch: str) -> list[str]:
        k = int(arch[1:]) if arch.startswith("t") else 0
        return [f"t{k + 1}"] + ([f"t{k - 1}"] if k else [])

    def build(
        self, arch: str, *, num_classes: int = 10, in_channels: int = 3, **kwargs
    ) -> nn.Module:
        if arch in ("boom", "hang"):
            return _Raises() if arch == "boom" else _Hangs()
        width = int(self.canonical(arch)[1:]) + 1
        return nn.Sequential(
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(in_channels * 4, width),
            nn.ReLU(),
            nn.Linear(width, num_classes),
        )


def output_sum(model: nn.Module, batch: Batch, delay: float = 0.0) -> float:
    time.sleep(delay)
    with torch.no_grad():
        return float(model(batch.inputs).sum())


_PROXY = {"higher_is_better": True, "data_mode": DataMode.SYNTHETIC, "paper": "test only"}
register_proxy("test_sum", **_PROXY)(output_sum)
register_proxy("test_slow", **_PROXY, params={"delay": 0.15})(output_sum)
register_proxy("test_lower", **{**_PROXY, "higher_is_better": False})(output_sum)


def score_into(store: str, archs: str, proxy: str) -> None:
    """Score comma-separated ``archs`` of test_tiny with ``proxy`` into the store at ``store``."""
    with ResultStore(store) as db:
        score_many("test_tiny", archs.split(","), [proxy], CONFIG, store=db)
