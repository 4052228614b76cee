"""Scoring one architecture with one proxy: build, initialise, feed, repeat.

Every score is a pure function of (space, architecture, proxy, data, init, seed): repeat ``r``
uses seed ``seed + r`` both for the network's initialisation and for the batch it sees.

Proxies whose settings ask for the same network and batch (equal :func:`preparation`) can be
scored together by :func:`score_group`: each repeat builds, initialises and feeds once, and
intermediate results the proxies share (:func:`trainfree.proxies.functional.shared`) are
computed once. Every proxy still starts from the random-number state it would have alone, so a
value is the same whether its proxy ran alone or in a group.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import torch
from torch import nn

from trainfree.data import Batch, get_dataset_info, make_batch
from trainfree.errors import TrainfreeError
from trainfree.init import apply_init
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.base import ProxySpec
from trainfree.proxies.functional import sharing
from trainfree.spaces import SearchSpace

DEFAULT_BATCH_SIZE = 64
SYNTHETIC = "synthetic"
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")


@dataclass(frozen=True)
class ScoreConfig:
    """What a score depends on besides the architecture and the proxy.

    ``None`` means "the proxy's own default" (its paper's batch size, image size, init and
    repeats); an explicit value overrides it for every proxy.

    ``memory_format`` is how 4-D inputs and convolution weights are laid out: ``"auto"``
    (default: each proxy's measured preference, ``ProxySpec.memory_format``),
    ``"channels_last"`` (oneDNN's convolutions on CPU: on full-size NB201 near 1.5x, intrain,
    tenas_ntk and zen 1.2x faster, gradalign 1.2x slower; BENCHMARKS.md) or ``"contiguous"``
    (NCHW) for every proxy. It changes only floating-point rounding (PyTorch's channels-last
    BatchNorm on CPU accumulates less precisely; ``benchmarks/precision.py`` measures the
    effect on the seed proxies), so it is recorded with each stored score as part of ``device``
    but is not part of its key.
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
    memory_format: str = "auto"
    #: The space's own input where it differs from the synthetic dataset's 32x32 and 10 classes
    #: (``mnasnet``: 224x224, 1000 classes); set by :meth:`for_space`, used by synthetic data only,
    #: after an explicit value and the proxy's own (InTrain's 64x64 stays 64).
    space_image_size: int | None = None
    space_num_classes: int | None = None

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

    def for_space(self, space: SearchSpace) -> ScoreConfig:
        """This config with ``space``'s natural input for synthetic data (idempotent): an
        ImageNet space is scored on 224x224 inputs and 1000 classes unless told otherwise."""
        if self.dataset != SYNTHETIC:
            return self
        info = get_dataset_info(SYNTHETIC)
        size, classes = space.default_image_size, space.default_num_classes
        return replace(
            self,
            space_image_size=size if size != info.image_size else None,
            space_num_classes=classes if classes != info.num_classes else None,
        )

    def layout(self, spec: ProxySpec) -> str:
        """The memory format ``spec`` runs with: ``"channels_last"`` or ``"contiguous"``."""
        return spec.memory_format if self.memory_format == "auto" else self.memory_format

    def provenance(self, spec: ProxySpec) -> str:
        """Where and how ``spec``'s scores are computed, as stored with them:
        ``cpu+channels_last``."""
        suffix = "+channels_last" if self.layout(spec) == "channels_last" else ""
        return self.device + suffix

    def resolve(self, spec: ProxySpec) -> ResolvedConfig:
        """Fill the open settings with ``spec``'s defaults."""
        return ResolvedConfig(
            dataset=self.dataset,
            batch_size=self.batch_size or spec.batch_size or DEFAULT_BATCH_SIZE,
            image_size=self.image_size or spec.image_size or self.space_image_size,
            num_classes=self.num_classes or self.space_num_classes,
            init=self.init or spec.default_init,
            seed=self.seed,
            repeats=self.repeats or spec.repeats,
            params=spec.fingerprint(),
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
    params: str = "{}"  # the proxy's keyword values and build overrides (ProxySpec.fingerprint)

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


def build_network(
    build: Callable[..., nn.Module],
    batch: Batch,
    *,
    seed: int,
    init: str | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> tuple[nn.Module, Batch]:
    """The one path from a network's recipe, data, init and seed to a network ready to score.

    ``torch.manual_seed(seed)``, then ``build(num_classes=...)`` for ``batch``'s class count (and
    ``in_features=F`` for a batch of rows ``(B, F)``), then the init scheme ``init`` (``None``
    keeps what ``build`` drew: an MLP applies the init its architecture names); network and batch
    are moved to ``device`` and ``dtype``, and with ``channels_last`` 4-D inputs and the network
    are laid out channels-last. ``build`` is ``space.build`` bound to an architecture (or a
    supernet constructor bound to its sizes).
    """
    batch = batch.to(device, dtype)
    torch.manual_seed(seed)
    inputs = {"in_features": batch.inputs.shape[1]} if batch.inputs.dim() == 2 else {}
    model = build(num_classes=batch.num_classes, **inputs)
    if init is not None:
        apply_init(model, init)
    model.to(device=device, dtype=dtype)
    if channels_last and batch.inputs.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        batch = batch.channels_last()
    return model, batch


def prepare(
    space: SearchSpace, arch: str, spec: ProxySpec, config: ScoreConfig, repeat: int = 0
) -> tuple[nn.Module, Batch]:
    """The initialised network and the batch that repeat ``repeat`` of :func:`score_arch` scores
    ``arch`` (canonical form) on with ``spec``: :func:`build_network` on :func:`make_batch`'s
    batch, both seeded with ``seed + repeat``."""
    config = config.for_space(space)
    resolved = config.resolve(spec)
    seed = resolved.seed + repeat
    batch = make_batch(
        resolved.dataset,
        batch_size=resolved.batch_size,
        seed=seed,
        mode=spec.data_mode,
        data_dir=config.data_dir,
        image_size=resolved.image_size,
        num_classes=resolved.num_classes,
    )
    return network_for(
        partial(space.build, arch, **spec.build_overrides), batch, spec, config, seed
    )


def network_for(
    build: Callable[..., nn.Module], batch: Batch, spec: ProxySpec, config: ScoreConfig, seed: int
) -> tuple[nn.Module, Batch]:
    """:func:`build_network` with the init, device, precision and memory layout ``spec`` is
    scored with under ``config``."""
    return build_network(
        build,
        batch,
        seed=seed,
        init=config.resolve(spec).init,
        device=config.device,
        dtype=spec.dtype,
        channels_last=config.layout(spec) == "channels_last",
    )


def preparation(spec: ProxySpec, config: ScoreConfig) -> Hashable:
    """What :func:`prepare` builds for ``spec`` under ``config``: proxies with equal values see
    the same network and batch (and run in the same train/eval mode)."""
    overrides = tuple(sorted(spec.build_overrides.items()))
    layout = config.layout(spec)
    resolved = replace(config.resolve(spec), params="")  # keywords don't change the network
    return resolved, spec.data_mode, spec.dtype, spec.train_mode, layout, overrides


def group_by_preparation(proxies: Sequence[str], config: ScoreConfig) -> list[list[str]]:
    """``proxies`` split into groups of equal :func:`preparation`, in first-seen order."""
    groups: dict[Hashable, list[str]] = {}
    for name in proxies:
        groups.setdefault(preparation(get_proxy(name), config), []).append(name)
    return list(groups.values())


def score_group(
    space: SearchSpace, arch: str, proxies: Sequence[str], config: ScoreConfig
) -> list[ScoreResult | Exception]:
    """Score ``arch`` with proxies of one :func:`preparation`, sharing their work.

    Returns, per proxy, its result or the exception it raised (the others go on; after a
    failure the next proxy gets a freshly built network, in case the failed one left it
    modified). ``seconds`` of a result is the time spent on that proxy, the network's
    preparation and any shared intermediate counted to the first proxy that needed them.
    """
    config = config.for_space(space)
    specs = [get_proxy(name) for name in proxies]
    if not specs or len({preparation(spec, config) for spec in specs}) != 1:
        raise TrainfreeError("score_group needs proxies of one preparation (group_by_preparation)")
    resolved = config.resolve(specs[0])
    arch = space.canonical(arch)
    values: list[list[float]] = [[] for _ in specs]
    seconds = [0.0] * len(specs)
    failed: list[Exception | None] = [None] * len(specs)
    for repeat in range(resolved.repeats):
        start = time.perf_counter()
        pending = [i for i, failure in enumerate(failed) if failure is None]
        while pending:  # one preparation serves the pending proxies until one of them fails
            try:
                model, batch = prepare(space, arch, specs[pending[0]], config, repeat)
            except Exception as exc:  # the architecture cannot be built: all of them fail
                for i in pending:
                    failed[i] = exc
                break
            rng = _rng_state()
            with sharing():
                while pending:
                    i = pending.pop(0)
                    _set_rng_state(rng)
                    try:
                        values[i].append(compute_proxy(specs[i], model, batch))
                    except Exception as exc:  # reported per proxy; the others go on
                        failed[i] = exc
                    now = time.perf_counter()
                    seconds[i] += now - start
                    start = now
                    if failed[i] is not None:
                        break
    return [
        failure
        if failure is not None
        else ScoreResult(
            arch,
            spec.name,
            math.fsum(v) / len(v),
            _spread(v),
            secs,
            config.resolve(spec),
            tuple(v),
        )
        for spec, v, secs, failure in zip(specs, values, seconds, failed, strict=True)
    ]


def score_arch(space: SearchSpace, arch: str, proxy: str, config: ScoreConfig) -> ScoreResult:
    """Score ``arch`` of ``space`` with the registered proxy ``proxy``."""
    (result,) = score_group(space, arch, [proxy], config)
    if isinstance(result, Exception):
        raise result
    return result


def score_proxies(
    space: SearchSpace, arch: str, proxies: Sequence[str], config: ScoreConfig
) -> dict[str, ScoreResult]:
    """Score ``arch`` with every proxy of ``proxies``, sharing work within each
    :func:`group_by_preparation` group; raises the first failure."""
    results: dict[str, ScoreResult] = {}
    for group in group_by_preparation(proxies, config):
        for result in score_group(space, arch, group, config):
            if isinstance(result, Exception):
                raise result
            results[result.proxy] = result
    return results


def _spread(values: list[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def _rng_state() -> tuple[torch.Tensor, list[torch.Tensor]]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor]]) -> None:
    torch.set_rng_state(state[0])
    if state[1]:
        torch.cuda.set_rng_state_all(state[1])
