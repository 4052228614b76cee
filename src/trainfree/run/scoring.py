"""Scoring one architecture with one proxy: build, initialise, feed, repeat.

Every score is a pure function of (space, architecture, proxy, data, init, seed): repeat ``r``
uses seed ``seed + r`` both for the network's initialisation and for the batch it sees.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from trainfree.data import Batch, make_batch
from trainfree.errors import TrainfreeError
from trainfree.init import apply_init
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.base import ProxySpec
from trainfree.spaces import SearchSpace

DEFAULT_BATCH_SIZE = 64
MEMORY_FORMATS = ("channels_last", "contiguous")


@dataclass(frozen=True)
class ScoreConfig:
    """What a score depends on besides the architecture and the proxy.

    ``None`` means "the proxy's own default" (its paper's batch size, image size, init and
    repeats); an explicit value overrides it for every proxy.

    ``memory_format`` is how 4-D inputs and convolution weights are laid out: ``"channels_last"``
    (default; oneDNN's convolutions on CPU: on full-size NB201 near 1.5x, intrain, tenas_ntk
    and zen 1.2x faster, gradalign 1.2x slower; BENCHMARKS.md) or ``"contiguous"`` (NCHW). It
    changes only floating-point rounding (PyTorch's channels-last BatchNorm on CPU accumulates
    less precisely; ``benchmarks/precision.py`` measures the effect on the seed proxies), so it
    is recorded with each stored score as part of ``device`` but is not part of its key.
    """

    dataset: str = "cifar10"
    data_dir: Path | None = None
    batch_size: int | None = None
    image_size: int | None = None
    num_classes: int | None = None
    seed: int = 0
    repeats: int | None = None
    init: str | None = None
    device: str = "cpu"
    memory_format: str = "channels_last"

    def __post_init__(self) -> None:
        if self.memory_format not in MEMORY_FORMATS:
            known = ", ".join(MEMORY_FORMATS)
            raise TrainfreeError(f"unknown memory format {self.memory_format!r} (known: {known})")
        for name in ("batch_size", "image_size", "num_classes", "repeats"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TrainfreeError(f"{name.replace('_', '-')} must be a positive integer")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise TrainfreeError("device 'cuda' requested but no CUDA device is available")

    @property
    def provenance(self) -> str:
        """Where and how scores are computed, as stored with them: ``cpu+channels_last``."""
        suffix = "+channels_last" if self.memory_format == "channels_last" else ""
        return self.device + suffix

    def resolve(self, spec: ProxySpec) -> ResolvedConfig:
        """Fill the open settings with ``spec``'s defaults."""
        return ResolvedConfig(
            dataset=self.dataset,
            batch_size=self.batch_size or spec.batch_size or DEFAULT_BATCH_SIZE,
            image_size=self.image_size or spec.image_size,
            num_classes=self.num_classes,
            init=self.init or spec.default_init,
            seed=self.seed,
            repeats=self.repeats or spec.repeats,
        )


@dataclass(frozen=True)
class ResolvedConfig:
    """The settings a stored score was computed with (its provenance)."""

    dataset: str
    batch_size: int
    image_size: int | None
    num_classes: int | None
    init: str
    seed: int
    repeats: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoreResult:
    """One (architecture, proxy) score: the mean over repeats, their spread and the cost."""

    arch: str
    proxy: str
    value: float
    std: float
    seconds: float
    config: ResolvedConfig
    values: tuple[float, ...] = field(default=())

    def as_json(self) -> dict:
        return {
            "arch": self.arch,
            "proxy": self.proxy,
            "value": self.value,
            "std": self.std,
            "seconds": self.seconds,
        }


def prepare(
    space: SearchSpace, arch: str, spec: ProxySpec, config: ScoreConfig, repeat: int = 0
) -> tuple[nn.Module, Batch]:
    """The initialised network and the batch that repeat ``repeat`` of :func:`score_arch` scores
    ``arch`` (canonical form) on with ``spec``."""
    resolved = config.resolve(spec)
    device = torch.device(config.device)
    seed = resolved.seed + repeat
    batch = make_batch(
        resolved.dataset,
        batch_size=resolved.batch_size,
        seed=seed,
        mode=spec.data_mode,
        data_dir=config.data_dir,
        image_size=resolved.image_size,
        num_classes=resolved.num_classes,
    ).to(device, spec.dtype)
    torch.manual_seed(seed)
    model = space.build(arch, num_classes=batch.num_classes, **spec.build_overrides)
    apply_init(model, resolved.init).to(device=device, dtype=spec.dtype)
    if config.memory_format == "channels_last" and batch.inputs.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        batch = batch.channels_last()
    return model, batch


def score_arch(space: SearchSpace, arch: str, proxy: str, config: ScoreConfig) -> ScoreResult:
    """Score ``arch`` of ``space`` with the registered proxy ``proxy``."""
    spec = get_proxy(proxy)
    resolved = config.resolve(spec)
    arch = space.canonical(arch)
    start = time.perf_counter()
    values = []
    for repeat in range(resolved.repeats):
        values.append(compute_proxy(spec, *prepare(space, arch, spec, config, repeat)))
    seconds = time.perf_counter() - start
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return ScoreResult(
        arch, spec.name, math.fsum(values) / len(values), std, seconds, resolved, tuple(values)
    )
