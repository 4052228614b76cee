"""Proxy specifications and the proxy registry.

A proxy is a pure function ``fn(model, batch, **params) -> float`` of an already initialised
network and a batch, plus metadata: whether higher is better, which data it needs, its default
initialisation and preferred batch/image size, and the paper it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError
from trainfree.registry import Registry

ProxyFn = Callable[..., float]


@dataclass(frozen=True)
class ProxySpec:
    """Metadata and implementation of one architecture score.

    ``build_overrides`` are passed to the space's ``build`` (for example TE-NAS's thin
    linear-region network); ``train_mode`` selects ``model.train()`` (BatchNorm on batch
    statistics) or ``model.eval()``; ``dtype`` is the precision the network is run in.
    """

    name: str
    fn: ProxyFn
    higher_is_better: bool
    data_mode: DataMode
    paper: str
    default_init: str = "default"
    batch_size: int | None = None
    image_size: int | None = None
    repeats: int = 1
    train_mode: bool = True
    dtype: torch.dtype = torch.float32
    build_overrides: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for ``trainfree proxies``."""
        return {
            "name": self.name,
            "higher_is_better": self.higher_is_better,
            "data_mode": self.data_mode.value,
            "default_init": self.default_init,
            "batch_size": self.batch_size,
            "image_size": self.image_size,
            "repeats": self.repeats,
            "paper": self.paper,
        }


PROXIES: Registry[ProxySpec] = Registry("proxy")


def register_proxy(
    name: str,
    *,
    higher_is_better: bool,
    data_mode: DataMode,
    paper: str,
    **metadata: Any,
) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator registering ``fn(model, batch, **params) -> float`` as proxy ``name``."""

    def deco(fn: ProxyFn) -> ProxyFn:
        for key in ("build_overrides", "params"):
            if key in metadata:
                metadata[key] = MappingProxyType(dict(metadata[key]))
        PROXIES.add(
            name,
            ProxySpec(name, fn, higher_is_better, data_mode, paper, **metadata),
        )
        return fn

    return deco


def get_proxy(name: str) -> ProxySpec:
    return PROXIES.get(name)


def compute_proxy(spec: ProxySpec, model: nn.Module, batch: Batch, **params: Any) -> float:
    """Run one proxy on one initialised model; raise if the value is not finite."""
    model.train(spec.train_mode)
    kwargs = {**spec.params, **params}
    value = float(spec.fn(model, batch, **kwargs))
    if not math.isfinite(value):
        raise NonFiniteScoreError(f"proxy {spec.name!r} produced a non-finite value ({value})")
    return value
