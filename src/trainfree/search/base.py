"""The search registry, what every search returns, and the budget of black-box searches.

A search module registers its function with :func:`register_search`, declaring what it needs:
``"fitness"`` (a black-box search driven by a proxy or rank-ensemble objective, any space) or
``"supernet"`` (a pruning search on a space whose :attr:`~trainfree.spaces.SearchSpace.supernet`
is set). Its keyword arguments are its options; the command line and the benchmark scripts read
them from :meth:`SearchAlgorithm.options`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainfree.errors import TrainfreeError
from trainfree.registry import Registry


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search.

    ``fitness`` is the search's objective for ``arch`` (higher is better), or ``None`` for pruning
    searches, which have no scalar objective; ``evaluations`` counts fitness queries (black-box
    searches) or supernet scorings (pruning searches); ``history`` lists (arch, fitness) in query
    order, or (the supernet's discretised genotype, None) after each pruning round.
    """

    algo: str
    arch: str
    fitness: float | None
    evaluations: int
    seconds: float
    history: list[tuple[str, float | None]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "algo": self.algo,
            "arch": self.arch,
            "fitness": self.fitness,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
        }


class Budget:
    """Stop after ``evaluations`` fitness queries and/or ``seconds`` of wall time (first reached).

    At least one limit is required; the clock starts at construction.
    """

    def __init__(self, evaluations: int | None = None, seconds: float | None = None) -> None:
        if evaluations is None and seconds is None:
            raise TrainfreeError("a search needs a budget: evaluations and/or seconds")
        if evaluations is not None and evaluations < 1:
            raise TrainfreeError(f"evaluation budget must be at least 1, got {evaluations}")
        if seconds is not None and seconds <= 0:
            raise TrainfreeError(f"time budget must be positive, got {seconds}")
        self.evaluations = evaluations
        self.seconds = seconds
        self.used = 0
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def spend(self) -> None:
        """Record one fitness query."""
        self.used += 1

    def exhausted(self) -> bool:
        over_count = self.evaluations is not None and self.used >= self.evaluations
        over_time = self.seconds is not None and self.elapsed() >= self.seconds
        return over_count or over_time


SearchFn = Callable[..., SearchResult]
NEEDS = ("fitness", "supernet")
#: Arguments a search receives from the harness, not as options: ``progress(status)`` is
#: called after each round or step with a one-line status, a ``checkpoint``
#: (:mod:`trainfree.search.checkpoint`) keeps round states for resuming.
_HARNESS = ("space", "fitness", "progress", "checkpoint")


@dataclass(frozen=True)
class SearchAlgorithm:
    """A registered search: its function, what it needs and its paper."""

    name: str
    fn: SearchFn
    needs: str
    paper: str

    def options(self) -> dict[str, inspect.Parameter]:
        """The function's keyword options (everything but the space and the fitness)."""
        params = inspect.signature(self.fn).parameters
        return {k: p for k, p in params.items() if k not in _HARNESS}

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (name, needs, options with defaults, paper)."""
        plain = (bool, int, float, str, type(None))
        return {
            "name": self.name,
            "needs": self.needs,
            "options": {
                k: p.default if isinstance(p.default, plain) else repr(p.default)
                for k, p in self.options().items()
            },
            "paper": self.paper,
        }


SEARCHES: Registry[SearchAlgorithm] = Registry("search algorithm")


def register_search(name: str, *, needs: str, paper: str) -> Callable[[SearchFn], SearchFn]:
    """Decorator registering ``fn(space, ...) -> SearchResult`` as search ``name``."""
    if needs not in NEEDS:
        raise ValueError(f"search {name!r}: needs must be one of {NEEDS}, got {needs!r}")

    def deco(fn: SearchFn) -> SearchFn:
        SEARCHES.add(name, SearchAlgorithm(name, fn, needs, paper))
        return fn

    return deco
