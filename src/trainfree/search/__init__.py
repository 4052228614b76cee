"""Search algorithms, registered by name (``trainfree.search.SEARCHES``).

Each module of this package registers its searches with
:func:`~trainfree.search.base.register_search`; third-party searches come in through the
``trainfree.searches`` entry-point group. ``run_search(name, space, **options)`` is the uniform
entry point. Searches that need a ``"fitness"`` (``random``, ``rea``) take their objective as
``fitness=`` (a callable, higher is better, or a :class:`~trainfree.search.fitness.CachedFitness`)
or as ``proxy=`` (a proxy name, an ensemble name or a list of names) with an optional ``config=``
:class:`~trainfree.run.scoring.ScoreConfig` and ``method=``; searches that need a ``"supernet"``
(``tenas``, ``freedarts``) run on a space that has one and take their own keyword settings.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from trainfree.errors import TrainfreeError
from trainfree.registry import import_submodules, load_plugins
from trainfree.run.scoring import ScoreConfig
from trainfree.search.base import (
    SEARCHES,
    Budget,
    SearchAlgorithm,
    SearchResult,
    register_search,
)
from trainfree.search.fitness import CachedFitness, Fitness, FunctionFitness
from trainfree.search.supernet import pruning_space
from trainfree.spaces import SearchSpace, get_space

import_submodules(__name__)
load_plugins("trainfree.searches")


def get_search(name: str) -> SearchAlgorithm:
    """The search registered as ``name``."""
    return SEARCHES.get(name)


#: Harness settings (:class:`ScoreConfig` fields) a search receives when it takes them as
#: keywords, whether or not the user set them.
_ALWAYS = ("dataset", "data_dir", "seed", "device")


def harness_options(
    algo: SearchAlgorithm,
    config: ScoreConfig,
    *,
    given: Mapping[str, Any],
    fixed: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword options of one run of ``algo``, checked against its signature.

    ``fixed``: what the harness passes (a fitness-driven search's ``fitness``, budget and
    limits; ``None`` values are left out); the ``config`` settings the search takes by name
    (``dataset``, ``seed``, ``batch_size``...: always :data:`_ALWAYS`, the others when in
    ``given``, the settings the user set); and ``extra``, the user's ``KEY=VALUE`` options.
    A setting in ``given`` that the search has no keyword for, an unknown ``extra`` key, a value
    of the wrong type and an ``extra`` key that a flag sets are one-line errors.
    """
    known = algo.options()
    options = {k: v for k, v in fixed.items() if v is not None}
    for name in dict.fromkeys([*_ALWAYS, *given]):
        if name in known and name not in options:
            options[name] = getattr(config, name)
        elif name in given and algo.needs != "fitness":
            flag = "--" + name.replace("_", "-")
            raise TrainfreeError(f"{flag} does not apply to --algo {algo.name}")
    for key, value in extra.items():
        if key not in known:
            raise TrainfreeError(
                f"--option {key}: not a keyword of {algo.name} (it takes {', '.join(known)})"
            )
        if key in options:
            raise TrainfreeError(f"--option {key} is set by its own flag; use that instead")
        _check_type(algo, key, value, known[key])
        options[key] = value
    return options


def _check_type(algo: SearchAlgorithm, key: str, value: Any, param: inspect.Parameter) -> None:
    """Refuse values the annotation rules out (text for ``lr_images: int | None``)."""
    words = set(str(param.annotation).replace("|", " ").replace("[", " ").split())
    allowed = {name for name in ("bool", "int", "float", "str") if name in words}
    allowed |= {"dict" for word in words if word in ("Mapping", "dict")}
    kind = type(value).__name__
    if allowed and kind not in allowed and not (kind == "int" and "float" in allowed):
        raise TrainfreeError(
            f"--option {key}={value}: {algo.name} expects {' or '.join(sorted(allowed))}"
        )


def _objective(space: SearchSpace, options: dict[str, Any]) -> None:
    """Turn ``proxy=`` / ``config=`` / ``method=`` into ``fitness=`` (in place)."""
    proxy = options.pop("proxy", None)
    config: ScoreConfig | None = options.pop("config", None)
    method: str | None = options.pop("method", None)
    if "fitness" in options:
        if proxy is not None:
            raise TrainfreeError("give either fitness= or proxy=, not both")
        return
    if proxy is None:
        raise TrainfreeError("this search needs a proxy (or a fitness)")
    options["fitness"] = Fitness(space, proxy, config or ScoreConfig(), method=method)


def run_search(name: str, space: SearchSpace | str, **options: Any) -> SearchResult:
    """Run the search ``name`` on ``space`` (a space or its name) with keyword ``options``."""
    algo = get_search(name)
    space = get_space(space) if isinstance(space, str) else space
    if algo.needs == "fitness":
        _objective(space, options)
    else:
        pruning_space(space)  # a one-line error where the space has no supernet
    try:
        inspect.signature(algo.fn).bind(space, **options)
    except TypeError as exc:
        raise TrainfreeError(f"search {name!r}: {exc}") from None
    return algo.fn(space, **options)


__all__ = [
    "SEARCHES",
    "Budget",
    "CachedFitness",
    "Fitness",
    "FunctionFitness",
    "SearchAlgorithm",
    "SearchResult",
    "get_search",
    "harness_options",
    "register_search",
    "run_search",
]
