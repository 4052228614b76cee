"""Search algorithms, registered by name: ``random``, ``rea``, ``tenas``, ``freedarts``.

``run_search(name, space, **options)`` is the uniform entry point. The black-box searches
(``random``, ``rea``) take their objective as ``fitness=`` (a callable, higher is better, or a
:class:`~trainfree.search.fitness.CachedFitness`) or as ``proxy=`` (a proxy name, an ensemble name
or a list of names) with an optional ``config=`` :class:`~trainfree.run.scoring.ScoreConfig` and
``method=``; the pruning searches (``tenas``, ``freedarts``) need a supernet space (``nb201``,
``darts``) and take their own keyword settings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from trainfree.errors import TrainfreeError
from trainfree.registry import Registry
from trainfree.run.scoring import ScoreConfig
from trainfree.search.base import Budget, SearchResult
from trainfree.search.evolution import random_search, regularized_evolution
from trainfree.search.fitness import CachedFitness, Fitness, FunctionFitness
from trainfree.search.tenas import tenas_search
from trainfree.search.zeros import DegenerateArchError, zeros_search
from trainfree.spaces import SearchSpace, get_space

SearchFn = Callable[..., SearchResult]

SEARCHES: Registry[SearchFn] = Registry("search algorithm")
SEARCHES.add("random", random_search)
SEARCHES.add("rea", regularized_evolution)
SEARCHES.add("tenas", tenas_search)
SEARCHES.add("freedarts", zeros_search)

_BLACK_BOX = frozenset({"random", "rea"})


def get_search(name: str) -> SearchFn:
    """The search function registered as ``name``."""
    return SEARCHES.get(name)


def _objective(space: SearchSpace, options: dict[str, Any]) -> None:
    """Turn ``proxy=`` / ``config=`` / ``method=`` into ``fitness=`` (in place)."""
    proxy: str | Sequence[str] | None = options.pop("proxy", None)
    config: ScoreConfig | None = options.pop("config", None)
    method: str | None = options.pop("method", None)
    if "fitness" in options:
        if proxy is not None:
            raise TrainfreeError("give either fitness= or proxy=, not both")
        return
    if proxy is None:
        raise TrainfreeError("random and rea searches need a proxy (or a fitness)")
    options["fitness"] = Fitness(space, proxy, config or ScoreConfig(), method=method)


def run_search(name: str, space: SearchSpace | str, **options: Any) -> SearchResult:
    """Run the search ``name`` on ``space`` (a space or its name) with keyword ``options``."""
    fn = get_search(name)
    space = get_space(space) if isinstance(space, str) else space
    if name.lower() in _BLACK_BOX:
        _objective(space, options)
    try:
        inspect.signature(fn).bind(space, **options)
    except TypeError as exc:
        raise TrainfreeError(f"search {name!r}: {exc}") from None
    return fn(space, **options)


__all__ = [
    "SEARCHES",
    "Budget",
    "CachedFitness",
    "DegenerateArchError",
    "Fitness",
    "FunctionFitness",
    "SearchResult",
    "get_search",
    "random_search",
    "regularized_evolution",
    "run_search",
    "tenas_search",
    "zeros_search",
]
