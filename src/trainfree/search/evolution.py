"""Black-box searches driven by a fitness: random search and regularised evolution.

Regularised evolution (aging evolution) follows Real, Aggarwal, Huang & Le, "Regularized Evolution
for Image Classifier Architecture Search", AAAI 2019, Algorithm 1: a population of ``P`` random
architectures; each cycle samples ``S`` members uniformly (with replacement), mutates the fittest,
adds the child and removes the *oldest* member. Defaults P=30, S=10 are NASLib's for NAS-Bench-201
(``nb201_defaults.yaml``); both are parameters.

The budget counts fitness queries (a revisited architecture is a query, answered from the cache)
and/or wall-clock seconds. Every random choice comes from ``random.Random(seed)``; with a
deterministic fitness, the same seed gives the same result.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator

from trainfree.errors import TrainfreeError
from trainfree.search.base import Budget, SearchResult, register_search
from trainfree.search.constraints import Limits
from trainfree.search.fitness import CachedFitness, as_fitness
from trainfree.spaces import SearchSpace

FitnessLike = CachedFitness | Callable[[str], float]
#: The registered names of the two searches.
RANDOM, REA = "random", "rea"
_CHUNK = 64


#: Random draws in a row that may all fall outside the limits before a search gives up.
MAX_REJECTED = 32 * _CHUNK


def _fresh_archs(space: SearchSpace, rng: random.Random, limits: Limits) -> Iterator[str]:
    """Uniformly random architectures within ``limits`` never yielded before, until the space
    is exhausted; raises when :data:`MAX_REJECTED` draws in a row fall outside the limits."""
    seen: set[str] = set()
    size = space.size()
    rejected = 0
    while size is None or len(seen) < size:
        for arch in space.sample(
            _CHUNK if size is None else min(_CHUNK, size), seed=rng.randrange(2**31)
        ):
            if arch in seen:
                continue
            seen.add(arch)
            if limits.admits(space, arch):
                rejected = 0
                yield arch
            elif (rejected := rejected + 1) >= MAX_REJECTED:
                raise TrainfreeError(
                    f"no architecture of {space.name} within {limits.describe()} in "
                    f"{MAX_REJECTED:,} random draws in a row: loosen the limits"
                )
    if limits and not seen:
        raise TrainfreeError(f"{space.name} has no architecture within {limits.describe()}")


def _mutate(
    space: SearchSpace, parent: str, rng: random.Random, limits: Limits, fresh: Iterator[str]
) -> str:
    """A random neighbour of ``parent`` within ``limits``; a fresh random architecture within
    them when no neighbour is, or ``parent`` again when none is left (never an endless loop)."""
    if not limits:
        return space.mutate(parent, rng)
    allowed = [n for n in space.neighbours(parent) if limits.admits(space, n)]
    return rng.choice(allowed) if allowed else next(fresh, parent)


class _Run:
    """Shared bookkeeping: budget, query history, and the final best architecture."""

    def __init__(
        self,
        algo: str,
        space: SearchSpace,
        fitness: FitnessLike,
        evaluations: int | None,
        seconds: float | None,
    ) -> None:
        self.algo = algo
        self.fitness = as_fitness(space, fitness)
        self.budget = Budget(evaluations, seconds)
        self.history: list[tuple[str, float]] = []

    def query(self, arch: str) -> float:
        value = self.fitness(arch)
        self.budget.spend()
        self.history.append((self.fitness.space.canonical(arch), value))
        return value

    def result(self) -> SearchResult:
        if not self.history:
            raise TrainfreeError(f"{self.algo}: the budget ran out before any evaluation")
        archs = list(dict.fromkeys(a for a, _ in self.history))
        current = self.fitness.values(archs)
        best = max(range(len(archs)), key=current.__getitem__)
        return SearchResult(
            self.algo,
            archs[best],
            current[best],
            self.budget.used,
            self.budget.elapsed(),
            list(self.history),
        )


@register_search(
    RANDOM,
    needs="fitness",
    paper="Li & Talwalkar, Random Search and Reproducibility for NAS, UAI 2019",
)
def random_search(
    space: SearchSpace,
    fitness: FitnessLike,
    *,
    evaluations: int | None = 100,
    seconds: float | None = None,
    limits: Limits | None = None,
    seed: int = 0,
) -> SearchResult:
    """Evaluate distinct uniformly random architectures within ``limits`` (MACs/FLOPs/params,
    :class:`~trainfree.search.constraints.Limits`) until the budget is spent; return the fittest
    (Li & Talwalkar, "Random Search and Reproducibility for NAS", UAI 2019)."""
    run = _Run(RANDOM, space, fitness, evaluations, seconds)
    for arch in _fresh_archs(space, random.Random(seed), limits or Limits()):
        if run.budget.exhausted():
            break
        run.query(arch)
    return run.result()


@register_search(
    REA,
    needs="fitness",
    paper="Real, Aggarwal, Huang & Le, Regularized Evolution for Image Classifier "
    "Architecture Search, AAAI 2019",
)
def regularized_evolution(
    space: SearchSpace,
    fitness: FitnessLike,
    *,
    evaluations: int | None = 100,
    seconds: float | None = None,
    population_size: int = 30,
    sample_size: int = 10,
    limits: Limits | None = None,
    seed: int = 0,
) -> SearchResult:
    """Regularised (aging) evolution, Real et al. 2019; see the module docstring. With
    ``limits``, only architectures within them are sampled, mutated into and scored."""
    if population_size < 1 or sample_size < 1:
        raise TrainfreeError("population and sample sizes must be at least 1")
    rng = random.Random(seed)
    limits = limits or Limits()
    run = _Run(REA, space, fitness, evaluations, seconds)
    population: deque[str] = deque()
    fresh = _fresh_archs(space, rng, limits)
    for arch in fresh:
        if len(population) >= population_size or run.budget.exhausted():
            break
        run.query(arch)
        population.append(run.history[-1][0])
    while population and not run.budget.exhausted():
        sample = [rng.choice(population) for _ in range(sample_size)]
        values = run.fitness.values(sample)
        parent = sample[max(range(len(sample)), key=values.__getitem__)]
        child = _mutate(space, parent, rng, limits, fresh)
        run.query(child)
        population.append(run.history[-1][0])
        population.popleft()
    return run.result()
