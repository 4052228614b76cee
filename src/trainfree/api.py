"""The public Python API (re-exported at the package root): score your own PyTorch networks,
list the proxies and spaces, correlate scores with accuracies and search a space.

Every function raises :class:`~trainfree.errors.TrainfreeError` (or a subclass) with a one-line
message for a user mistake or a proxy that cannot run, the same line the command line prints.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainfree.data import make_batch
from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES, compute_proxy, get_proxy
from trainfree.proxies.base import ProxySpec
from trainfree.run.scoring import ScoreConfig, group_by_preparation, network_for, score_group
from trainfree.search.base import SearchResult
from trainfree.search.evolution import REA
from trainfree.spaces import SPACES, SearchSpace, get_space
from trainfree.spaces.model import DEFAULT_ARCH, ModelSpace
from trainfree.variants import split_names

#: What :func:`trainfree.score` scores: a network, or a callable that builds one.
ModelOrFactory = nn.Module | Callable[..., nn.Module]
#: What :func:`trainfree.score` feeds: a dataset name, a tensor, ``(inputs, labels)``, or an
#: iterable of batches.
Data = str | torch.Tensor | tuple[torch.Tensor, torch.Tensor] | Iterable[Any]
#: The metrics of :func:`trainfree.correlate` for one score column.
Metrics = dict[str, float | int | tuple[float, float]]

_REAL = (DataMode.LABELLED, DataMode.INPUTS)


def score(
    model: ModelOrFactory,
    data: Data,
    proxies: str | Sequence[str] = ("near", "meco"),
    *,
    arch: str | None = None,
    repeats: int | None = None,
    seed: int = 0,
    init: str | None = None,
    device: str = "cpu",
    batch_size: int | None = None,
    num_classes: int | None = None,
    image_size: int | None = None,
    data_dir: str | Path | None = None,
) -> dict[str, float]:
    """Score one network with zero-cost proxies: ``{proxy name: score}``.

    :param model: an ``nn.Module`` (a copy of it is re-initialised for every repeat; the module
        itself is left untouched) or a factory that builds one. A factory is called anew for
        every repeat, so it also serves the proxies that score a re-built copy of the network
        (TE-NAS's ``tenas_lr`` and ``tenas_ntk`` pass size keywords such as ``C`` and ``N``,
        which the factory must accept); it receives the dataset's ``num_classes`` (or the one
        you give) when it accepts that keyword, and ``arch`` as its first argument when that
        parameter has no default.
    :param data: a dataset name (``"cifar10"``, ``"cifar100"``, ``"imagenet16-120"``,
        ``"synthetic"``): each proxy draws its own batch exactly as the command line does, so
        the numbers equal ``trainfree score`` for the same architecture, settings and seed. Or
        your own data: an input tensor (labels unknown), an ``(inputs, labels)`` pair, or an
        iterable of such batches such as a ``DataLoader``, from which the first batches are
        concatenated until the largest batch a proxy needs is reached. Each proxy then sees
        the first ``batch_size`` samples (its paper's batch size unless ``batch_size`` is
        given; too few samples is an error), the same samples in every repeat. Proxies on
        synthetic data (Gaussian inputs, random labels) or all-ones inputs take only the shape
        of your inputs.
    :param proxies: proxy names (``"all"``: every registered proxy), as a list or a
        comma-separated string; variants such as ``"intrain[layers=relu]"`` work.
    :param arch: the architecture string a factory takes (see ``model``).
    :param repeats: scores averaged over repeats ``r = 0, 1, ...``, each with seed
        ``seed + r`` (default: each proxy's own, as on the command line).
    :param seed: seeds the initialisation and, for a dataset name, the batch.
    :param init: an initialisation scheme applied before scoring (default: each proxy's own;
        ``"default"`` is PyTorch's ``reset_parameters``).
    :param device: ``"cpu"`` or ``"cuda"``.
    :param batch_size: one batch size for every proxy instead of each paper's.
    :param num_classes: the number of classes (default: the dataset's; for your own data the
        factory's own head is kept, and the proxies that need a class count take the largest
        label + 1).
    :param image_size: resize images of a dataset to this size (a dataset name only).
    :param data_dir: the dataset folder (default: ``$TRAINFREE_DATA``).
    :raises trainfree.errors.TrainfreeError: one line naming the proxy that could not score the
        network and why.
    """
    names = _proxy_names(proxies)
    space = _model_space(model)
    if arch is None and space.takes_arch:
        raise TrainfreeError(f"{space.name} takes an architecture string: pass arch=")
    arch = space.canonical(DEFAULT_ARCH if arch is None else arch)
    if isinstance(model, nn.Module):
        _check_rebuilds(names)
    config = ScoreConfig(
        dataset=data if isinstance(data, str) else "synthetic",
        data_dir=Path(data_dir) if data_dir is not None else None,
        batch_size=batch_size,
        image_size=image_size,
        num_classes=num_classes,
        seed=seed,
        repeats=repeats,
        init=init,
        device=device,
    )
    if isinstance(data, str):
        _check_dataset(names, config)
        scores: dict[str, float] = {}
        for group in group_by_preparation(names, config):
            for name, result in zip(group, score_group(space, arch, group, config), strict=True):
                if isinstance(result, Exception):
                    raise _proxy_error(name, result) from result
                scores[name] = result.value
        return {name: scores[name] for name in names}
    own = _OwnData.collect(data, _samples_needed(names, config), num_classes)
    return {name: _score_own(space, arch, get_proxy(name), config, own) for name in names}


def list_proxies() -> list[dict[str, Any]]:
    """Every registered proxy with its metadata, as ``trainfree proxies --json`` lists them:
    ``name``, ``higher_is_better``, ``data_mode``, ``default_init``, ``batch_size``,
    ``image_size``, ``repeats``, ``options`` (for ``name[key=value]`` variants), ``paper``.
    ``pandas.DataFrame(list_proxies())`` makes a table of it."""
    return [PROXIES.get(name).describe() for name in PROXIES.names()]


def list_spaces() -> list[dict[str, Any]]:
    """Every registered search space, as ``trainfree spaces --json`` lists them: ``name``,
    ``size`` (``None`` when not enumerable) and ``description``. A user's model factory is the
    space ``model:package.module:factory`` (see :func:`space`)."""
    rows = []
    for name in SPACES.names():
        space_ = get_space(name)
        rows.append({"name": name, "size": space_.size(), "description": space_.describe()})
    return rows


def space(name: str) -> SearchSpace:
    """The search space ``name`` (``"nb201"``), a size variant of it (``"nb201[C=4,N=1]"``), or
    the networks of a model factory (``"model:package.module:factory"``)."""
    return get_space(name)


def correlate(
    scores: Any,
    accuracies: Any,
    *,
    higher_is_better: bool | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Metrics | dict[str, Metrics]:
    """How well ``scores`` rank architectures by ``accuracies``.

    Returns the metrics of the command line's ``correlate`` (``trainfree.evaluate.correlate``):
    Spearman's ρ, Kendall's τ-b, Pearson's r, the precision of the top 10 %
    (``top10pct_precision``) and the library's further ranking metrics, plus ``n``, the number
    of pairs used (pairs with a NaN or infinite value are dropped). With ``n_boot > 0`` each
    metric also gets ``<metric>_ci``, a percentile bootstrap interval at ``level`` over
    ``n_boot`` resamples seeded by ``seed``.

    :param scores: one score per architecture (a sequence, an array or a ``pandas.Series``),
        or several columns of them (a ``pandas.DataFrame`` or a mapping of name to scores),
        giving one result per column.
    :param accuracies: the architectures' accuracies, aligned with ``scores`` by position, or
        by index when both are pandas objects.
    :param higher_is_better: the direction of the scores; by default that of the proxy a
        column (or Series) is named after, else ``True``. Lower-is-better scores are negated,
        so a positive correlation always means "ranks like the accuracies".
    """
    from trainfree.evaluate import correlate as metrics

    options = {"n_boot": n_boot, "seed": seed, "level": level}
    if isinstance(scores, Mapping) or hasattr(scores, "columns"):
        return {
            str(name): correlate(
                column, accuracies, higher_is_better=_direction(higher_is_better, name), **options
            )
            for name, column in scores.items()
        }
    if hasattr(scores, "index") and hasattr(accuracies, "reindex"):
        accuracies = accuracies.reindex(scores.index)
    direction = _direction(higher_is_better, getattr(scores, "name", None))
    return metrics(scores, accuracies, higher_is_better=direction, **options)


def search_arch(
    space: str | SearchSpace,
    algo: str = REA,
    *,
    proxy: str | Sequence[str] | None = None,
    budget: int | None = None,
    seed: int = 0,
    **options: Any,
) -> SearchResult:
    """Search ``space`` with the search algorithm ``algo`` and return its result.

    :param space: a space or its name (see :func:`space`).
    :param algo: ``"random"`` or ``"rea"`` (regularised evolution) maximise a proxy; ``"tenas"``
        and ``"freedarts"`` prune a supernet (spaces ``nb201`` and ``darts``).
    :param proxy: the objective of ``random``/``rea``: a proxy name, a list of names or an
        ensemble name (``"ensemble:near+meco"``).
    :param budget: the number of architectures ``random``/``rea`` evaluate.
    :param seed: the search's seed.
    :param options: further keyword options of the search, for example ``config=`` (a
        :class:`trainfree.run.scoring.ScoreConfig`: the data and settings of the proxy).
    """
    from trainfree.search import run_search

    if proxy is not None:
        options["proxy"] = proxy
    if budget is not None:
        options["evaluations"] = budget
    return run_search(algo, space, seed=seed, **options)


def _direction(higher_is_better: bool | None, name: object) -> bool:
    if higher_is_better is not None:
        return higher_is_better
    if isinstance(name, str) and name in PROXIES:
        return get_proxy(name).higher_is_better
    return True


def _proxy_names(proxies: str | Sequence[str]) -> list[str]:
    """Canonical proxy names; ``"all"`` expands to every registered proxy."""
    items = split_names(proxies) if isinstance(proxies, str) else list(proxies)
    names: list[str] = []
    for item in items:
        names.extend(PROXIES.names() if item.strip().lower() == "all" else [get_proxy(item).name])
    if not names:
        raise TrainfreeError("no proxy given")
    return list(dict.fromkeys(names))


def _model_space(model: ModelOrFactory) -> ModelSpace:
    if isinstance(model, nn.Module):
        name = f"model:{type(model).__module__}:{type(model).__qualname__}"
        return ModelSpace(lambda: copy.deepcopy(model), name)
    return ModelSpace(model)


def _check_rebuilds(names: Sequence[str]) -> None:
    """A module cannot be re-built with other sizes: say so for the proxies that need it."""
    for name in names:
        overrides = get_proxy(name).build_overrides
        if overrides:
            sizes = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
            raise TrainfreeError(
                f"proxy {name!r} scores a copy of the network re-built with {sizes}: "
                "pass a model factory that accepts these keywords instead of a module"
            )


def _proxy_error(name: str, exc: Exception) -> TrainfreeError:
    """``exc`` as one line naming the proxy (the line ``trainfree score`` prints)."""
    from trainfree.run.executors import _describe

    cls = type(exc) if isinstance(exc, TrainfreeError) else TrainfreeError
    return cls(f"proxy {name!r} failed: {_describe(exc)}")


def _check_dataset(names: Sequence[str], config: ScoreConfig) -> None:
    """Read the dataset once up front (as the command line does), so an unknown name or a
    missing file is one error, not one per proxy."""
    real = any(get_proxy(name).data_mode in _REAL for name in names)
    mode = DataMode.LABELLED if real else DataMode.FREE
    make_batch(config.dataset, batch_size=1, seed=0, mode=mode, data_dir=config.data_dir)


def _samples_needed(names: Sequence[str], config: ScoreConfig) -> int:
    """The most real samples one of ``names`` feeds on (1 when none needs real data)."""
    sizes = [
        config.resolve(spec).batch_size for spec in map(get_proxy, names) if spec.data_mode in _REAL
    ]
    return max(sizes, default=1)


class _OwnData:
    """A user's samples (inputs, optional labels) and the batch each proxy takes from them."""

    def __init__(
        self, inputs: torch.Tensor, labels: torch.Tensor | None, classes: int | None, given: bool
    ) -> None:
        self.inputs, self.labels, self.num_classes = inputs, labels, classes
        self.given = given  # the factory receives num_classes only when the user gave it

    @classmethod
    def collect(cls, data: Data, needed: int, num_classes: int | None) -> _OwnData:
        """Read ``data`` (a tensor, a pair, or an iterable of either) until ``needed`` samples."""
        if isinstance(data, torch.Tensor | tuple | list):
            parts = [_as_pair(data)]
        elif isinstance(data, Iterable):
            parts, count = [], 0
            for item in data:
                parts.append(_as_pair(item))
                count += len(parts[-1][0])
                if count >= needed:
                    break
            if not parts:
                raise TrainfreeError("the data yielded no batch")
        else:
            raise TrainfreeError(
                f"data must be a dataset name, a tensor, (inputs, labels) or an iterable of "
                f"batches, got {type(data).__name__}"
            )
        inputs = torch.cat([x for x, _ in parts])
        has_labels = all(y is not None for _, y in parts)
        labels = torch.cat([y for _, y in parts]) if has_labels else None
        classes = int(labels.max()) + 1 if num_classes is None and labels is not None else None
        return cls(inputs, labels, num_classes or classes, given=num_classes is not None)

    def batch(self, spec: ProxySpec, size: int, seed: int) -> Batch:
        """What ``spec`` receives: the first ``size`` samples, Gaussian inputs of the same shape
        with random labels (seeded by ``seed``), or one all-ones input."""
        mode, shape = spec.data_mode, self.inputs.shape[1:]
        if mode is DataMode.LABELLED and self.labels is None:
            raise TrainfreeError(f"proxy {spec.name!r} needs labelled data: pass (inputs, labels)")
        if mode is DataMode.SYNTHETIC and self.num_classes is None:
            raise TrainfreeError(
                f"proxy {spec.name!r} draws random labels: pass num_classes (or labelled data)"
            )
        classes = self.num_classes or 1
        if mode in (DataMode.ONES, DataMode.FREE):
            ones = torch.ones(1, *shape, dtype=self.inputs.dtype)
            return Batch(ones, torch.zeros(1, dtype=torch.long), classes)
        if mode is DataMode.SYNTHETIC:
            gen = torch.Generator().manual_seed(seed)
            inputs = torch.randn(size, *shape, generator=gen)
            return Batch(inputs, torch.randint(0, classes, (size,), generator=gen), classes)
        if len(self.inputs) < size:
            raise TrainfreeError(
                f"proxy {spec.name!r} feeds on {size} samples, the data has {len(self.inputs)}: "
                "pass more data or a smaller batch_size"
            )
        labels = self.labels if self.labels is not None else torch.zeros(len(self.inputs))
        return Batch(self.inputs[:size], labels[:size].long(), classes)


def _as_pair(item: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``tensor`` -> ``(tensor, None)``; ``(inputs, labels, ...)`` -> ``(inputs, labels)``."""
    if isinstance(item, torch.Tensor):
        pair: tuple[Any, Any] = (item, None)
    elif isinstance(item, tuple | list) and len(item) >= 2:
        pair = (item[0], item[1])
    else:
        raise TrainfreeError("a batch must be a tensor or an (inputs, labels) pair")
    inputs, labels = pair
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2:
        raise TrainfreeError("inputs must be a tensor of shape (batch, ...)")
    if labels is not None:
        labels = torch.as_tensor(labels)
        if labels.shape != inputs.shape[:1]:
            raise TrainfreeError(
                f"labels must have shape ({len(inputs)},), got {tuple(labels.shape)}"
            )
    return inputs, labels


def _score_own(
    space: ModelSpace, arch: str, spec: ProxySpec, config: ScoreConfig, own: _OwnData
) -> float:
    """The mean of ``spec`` over repeats on the user's data, each network prepared by
    :func:`trainfree.run.scoring.network_for` as for a dataset name."""
    resolved = config.resolve(spec)
    build = partial(space.build, arch, **spec.build_overrides)
    values = []
    for repeat in range(resolved.repeats):
        seed = resolved.seed + repeat
        batch = own.batch(spec, resolved.batch_size, seed)  # its errors name the proxy
        try:
            model, batch = network_for(
                build if own.given else partial(_without_classes, build), batch, spec, config, seed
            )
            values.append(compute_proxy(spec, model, batch))
        except Exception as exc:
            raise _proxy_error(spec.name, exc) from exc
    return math.fsum(values) / len(values)


def _without_classes(build: Callable[..., nn.Module], **kwargs: Any) -> nn.Module:
    """``build`` without a class count guessed from the data (the factory keeps its own)."""
    kwargs.pop("num_classes", None)
    return build(**kwargs)
