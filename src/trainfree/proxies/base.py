"""Proxy specifications and the proxy registry.

A proxy is a pure function ``fn(model, batch, **params) -> float`` of an already initialised
network and a batch, plus metadata: whether higher is better, which data it needs, its default
initialisation and preferred batch/image size, and the paper it comes from.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.registry import Registry
from trainfree.variants import assignments, parse_value, split_variant, variant_name

ProxyFn = Callable[..., float]


@dataclass(frozen=True)
class ProxySpec:
    """Metadata and implementation of one architecture score.

    ``build_overrides`` are passed to the space's ``build`` (for example TE-NAS's thin
    linear-region network); ``train_mode`` selects ``model.train()`` (BatchNorm on batch
    statistics) or ``model.eval()``; ``dtype`` is the precision the network is run in;
    ``memory_format`` the layout of 4-D inputs and convolution weights the proxy runs fastest
    with on CPU (measured; the harness uses it unless told otherwise, see
    :class:`trainfree.run.scoring.ScoreConfig`).
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
    memory_format: str = "channels_last"
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
            "options": self.options(),
            "paper": self.paper,
        }

    def options(self) -> dict[str, Any]:
        """The keyword defaults a variant ``name[key=value,...]`` can change (JSON-friendly)."""
        plain = (bool, int, float, str, type(None))
        return {k: v if isinstance(v, plain) else repr(v) for k, v in self.keywords().items()}

    def fingerprint(self) -> str:
        """JSON of what the proxy computes beyond its name: its keyword values and network-size
        overrides. Stored with every score (part of the store key), so a changed default never
        passes for an earlier score."""
        return json.dumps(
            {"options": self.options(), "build": dict(self.build_overrides)}, sort_keys=True
        )

    def keywords(self) -> dict[str, Any]:
        """The function's keyword defaults, with the registered ``params`` applied."""
        signature = inspect.signature(self.fn).parameters
        defaults = {k: p.default for k, p in signature.items() if k not in _SPEC_ARGS}
        defaults.update((k, v) for k, v in self.params.items() if k in defaults)
        return defaults


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


_SPEC_ARGS = ("model", "batch")


# Harness settings a variant can change besides the function's keywords: spec field per key.
SETTINGS = {"batch_size": "batch_size", "image_size": "image_size", "repeats": "repeats",
            "init": "default_init"}  # fmt: skip


def _setting(key: str, text: str) -> Any:
    value = parse_value("proxy setting", key, text, "" if key == "init" else 1)
    if key != "init" and value < 1:
        raise TrainfreeError(f"proxy setting {key}={text.strip()!r}: expected a positive integer")
    return value


def _variant(base: ProxySpec, args: str) -> ProxySpec:
    """``base`` with some of its function's keyword defaults, or of its harness settings
    (:data:`SETTINGS`), replaced (``key=value,...``)."""
    known = base.keywords()
    params: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for key, text, sep in assignments(args):
        if sep and key in known:
            params[key] = parse_value("proxy parameter", key, text, known[key])
        elif sep and key in SETTINGS:
            settings[key] = _setting(key, text)
        else:
            names = ", ".join([*known, *SETTINGS])
            raise TrainfreeError(
                f"proxy {base.name!r} has no parameter {key!r} (known: {names}); "
                f"use {base.name}[key=value,...]"
            )
    if not params and not settings:
        raise TrainfreeError(f"empty parameter list in {base.name}[]")
    merged = MappingProxyType({**base.params, **params})
    fields = {SETTINGS[k]: v for k, v in settings.items()}
    name = variant_name(base.name, {**params, **settings})
    return replace(base, name=name, params=merged, **fields)


def get_proxy(name: str) -> ProxySpec:
    """The registered proxy ``name``, or a variant ``name[key=value,...]`` of it.

    A variant changes keyword defaults of the proxy's function (for example
    ``intrain[layers=relu]`` or ``gradalign_det[sign=-1]``) or its harness settings
    ``batch_size``, ``image_size``, ``repeats`` and ``init`` (``tenas_lr[batch_size=486]``; an
    explicit :class:`~trainfree.run.scoring.ScoreConfig` value still overrides them for every
    proxy); its canonical name, with the keys sorted, is the name its scores are stored under.
    """
    base, args = split_variant(name)
    return PROXIES.get(base) if args is None else _variant(PROXIES.get(base), args)


def compute_proxy(spec: ProxySpec, model: nn.Module, batch: Batch, **params: Any) -> float:
    """Run one proxy on one initialised model; raise if the value is not finite."""
    model.train(spec.train_mode)
    kwargs = {**spec.params, **params}
    value = float(spec.fn(model, batch, **kwargs))
    if not math.isfinite(value):
        raise NonFiniteScoreError(f"proxy {spec.name!r} produced a non-finite value ({value})")
    return value
