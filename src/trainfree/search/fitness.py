"""Fitness functions for black-box searches: memoised, higher is better.

:class:`Fitness` turns zero-cost proxies into a search objective. With one proxy the fitness is its
value, sign-flipped when lower is better. With several proxies (a list, or an ensemble name such as
those :func:`trainfree.proxies.ensemble.parse_ensemble` accepts) the fitness is the rank-aggregated
score of the architecture among **all architectures evaluated so far** (AZ-NAS-style aggregation,
Lee & Ham, CVPR 2024): it is relative to the search history and can change as the history grows,
so searches compare candidates through :meth:`CachedFitness.values`, which recomputes it.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.ensemble import objective_of
from trainfree.run.runner import score_many
from trainfree.run.scoring import ScoreConfig, score_proxies
from trainfree.run.store import ResultStore
from trainfree.spaces import SearchSpace


class CachedFitness(ABC):
    """A memoised fitness over canonical architecture strings.

    ``evaluations`` counts distinct architectures scored, ``seconds`` the time spent scoring them.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.evaluations = 0
        self.seconds = 0.0
        self._records: dict[str, object] = {}

    @abstractmethod
    def _evaluate(self, arch: str) -> object:
        """Score a new canonical ``arch``; the record is kept for :meth:`values`."""

    @abstractmethod
    def values(self, archs: Sequence[str]) -> list[float]:
        """Current fitness of already evaluated canonical ``archs``."""

    def __call__(self, arch: str) -> float:
        arch = self.space.canonical(arch)
        if arch not in self._records:
            start = time.perf_counter()
            self._records[arch] = self._evaluate(arch)
            self.seconds += time.perf_counter() - start
            self.evaluations += 1
        return self.values([arch])[0]

    def evaluated(self) -> list[str]:
        """Every architecture scored so far, in order."""
        return list(self._records)


class FunctionFitness(CachedFitness):
    """Wrap a plain ``fn(arch) -> float`` (higher is better), e.g. a benchmark lookup."""

    def __init__(self, space: SearchSpace, fn: Callable[[str], float]) -> None:
        super().__init__(space)
        self.fn = fn

    def _evaluate(self, arch: str) -> float:
        value = float(self.fn(arch))
        if not math.isfinite(value):
            raise NonFiniteScoreError(f"fitness of {arch!r} is not finite ({value})")
        return value

    def values(self, archs: Sequence[str]) -> list[float]:
        return [self._records[a] for a in archs]


class Fitness(CachedFitness):
    """Zero-cost proxy fitness of architectures of ``space`` (higher is better).

    ``proxies`` is a proxy name, an ensemble name (``ensemble[azlog]:a+b``, ``tenas``) or a list
    of proxy names (an ensemble with ``method``, default ``mean_rank``); ``method`` overrides an
    ensemble's rank method (:func:`~trainfree.proxies.ensemble.objective_of`). Component values
    are cached per architecture. One proxy: its value, negated when the proxy's
    ``higher_is_better`` is False. An ensemble: its rank aggregate over every architecture
    evaluated so far, so an architecture's fitness is relative to the history (module
    docstring).

    With ``store``, component scores are read from and written to that
    :class:`~trainfree.run.store.ResultStore` (a resumed search rescores nothing);
    ``on_evaluate(arch)`` is called after every query (a progress bar, a heartbeat).
    """

    def __init__(
        self,
        space: SearchSpace,
        proxies: str | Sequence[str],
        config: ScoreConfig,
        *,
        method: str | None = None,
        store: ResultStore | None = None,
        on_evaluate: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(space)
        self.objective = objective_of(proxies, method=method)
        self.config = config
        self.proxies = list(self.objective.components)
        self.store = store
        self.on_evaluate = on_evaluate

    def _evaluate(self, arch: str) -> dict[str, float]:
        if self.store is None:
            try:
                results = score_proxies(self.space, arch, self.proxies, self.config)
            except TrainfreeError:
                raise
            except Exception as exc:  # a proxy's own failure: one line, as with a store
                proxies = "+".join(self.proxies)
                raise TrainfreeError(
                    f"{proxies} failed on {arch}: {type(exc).__name__}: {exc}"
                ) from exc
            return {p: results[p].value for p in self.proxies}
        report = score_many(self.space.name, [arch], self.proxies, self.config, store=self.store)
        if report.interrupted:
            raise KeyboardInterrupt
        for failure in report.failures:
            raise TrainfreeError(f"{failure.proxy} failed on {arch}: {failure.error}")
        return {r.proxy: r.value for r in report.results}

    def __call__(self, arch: str) -> float:
        value = super().__call__(arch)
        if self.on_evaluate is not None:
            self.on_evaluate(arch)
        return value

    def components(self, arch: str) -> dict[str, float]:
        """The cached raw proxy values of an evaluated architecture."""
        return dict(self._records[self.space.canonical(arch)])

    def columns(self, archs: Sequence[str]) -> dict[str, list[float]]:
        """Each component's cached values over evaluated canonical ``archs``."""
        return {p: [self._records[a][p] for a in archs] for p in self.proxies}

    def values(self, archs: Sequence[str]) -> list[float]:
        history = archs if not self.objective.is_ensemble else list(self._records)
        combined = self.objective.combine(self.columns(history))
        position = {a: i for i, a in enumerate(history)}
        return [float(combined[position[a]]) for a in archs]


def as_fitness(
    space: SearchSpace, fitness: CachedFitness | Callable[[str], float]
) -> CachedFitness:
    """Use ``fitness`` as is, or wrap a plain callable in :class:`FunctionFitness`."""
    return fitness if isinstance(fitness, CachedFitness) else FunctionFitness(space, fitness)
