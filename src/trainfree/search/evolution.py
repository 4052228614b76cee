"""Black-box searches driven by a fitness: random search and regularised evolution.

Regularised evolution (aging evolution) follows Real, Aggarwal, Huang & Le, "Regularized Evolution
for Image Classifier Architecture Search", AAAI 2019, Algorithm 1: a population of ``P`` random
architectures; each cycle samples ``S`` members uniformly (with replacement), mutates the fittest,
adds the child and removes the *oldest* member. Defaults P=30, S=10 are NASLib's for NAS-Bench-201
(``nb201_defaults.yaml``); both are parameters.

With ``within`` (a finite list of architectures, e.g. a benchmark table's rows), both searches
keep to :class:`~trainfree.search.constraints.Admissible`: the listed architectures within the
limits. Random search draws them without replacement; evolution's initial population is drawn
the same way, and a mutation takes a uniformly chosen neighbour of the parent in that set, or,
when no neighbour is in it, projects a random mutant onto the set's nearest members not scored
yet (token edit distance, ties uniform; all members once every one is scored): a local move
that never loops. Without that exclusion, projections of a sparse table's mutants keep landing
on the same few members (on Accel-NASBench about 40% of 100 queries were repeats).

The budget counts fitness queries (a revisited architecture is a query, answered from the cache)
and/or wall-clock seconds. Every random choice comes from ``random.Random(seed)``; with a
deterministic fitness, the same seed gives the same result.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Collection, Iterator

from trainfree.errors import TrainfreeError
from trainfree.search.base import Budget, SearchResult, register_search
from trainfree.search.constraints import Admissible, Limits
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


def _candidates(
    space: SearchSpace, rng: random.Random, limits: Limits, admissible: Admissible | None
) -> Iterator[str]:
    """Distinct random architectures: of ``admissible`` when given, else of the space within
    ``limits``."""
    if admissible is not None:
        return admissible.shuffled(rng)
    return _fresh_archs(space, rng, limits)


def _mutate(
    space: SearchSpace,
    parent: str,
    rng: random.Random,
    limits: Limits,
    fresh: Iterator[str],
    admissible: Admissible | None = None,
    scored: Collection[str] = (),
) -> str:
    """A random neighbour of ``parent`` within ``limits`` (and in ``admissible``). When no
    neighbour is: the members of ``admissible`` nearest a random mutant that are not yet
    ``scored``, or else a fresh random architecture within the limits, or ``parent`` again when
    none is left (never an endless loop)."""
    if admissible is not None:
        allowed = [n for n in space.neighbours(parent) if n in admissible]
        if allowed:
            return rng.choice(allowed)
        return admissible.nearest(space.mutate(parent, rng), rng, exclude={parent, *scored})
    if not limits:
        return space.mutate(parent, rng)
    allowed = [n for n in space.neighbours(parent) if limits.admits(space, n)]
    return rng.choice(allowed) if allowed else next(fresh, parent)


def _admissible(
    space: SearchSpace, within: Collection[str] | None, limits: Limits
) -> Admissible | None:
    return None if within is None else Admissible(space, within, limits)


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
        self.scored: set[str] = set()

    def query(self, arch: str) -> float:
        value = self.fitness(arch)
        self.budget.spend()
        self.history.append((self.fitness.space.canonical(arch), value))
        self.scored.add(self.history[-1][0])
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
    within: Collection[str] | None = None,
    seed: int = 0,
) -> SearchResult:
    """Evaluate distinct uniformly random architectures within ``limits`` (MACs/FLOPs/params,
    :class:`~trainfree.search.constraints.Limits`), and among ``within`` when given, until the
    budget is spent; return the fittest (Li & Talwalkar, "Random Search and Reproducibility for
    NAS", UAI 2019)."""
    limits = limits or Limits()
    run = _Run(RANDOM, space, fitness, evaluations, seconds)  # the clock includes the set
    admissible = _admissible(space, within, limits)
    for arch in _candidates(space, random.Random(seed), limits, admissible):
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
    within: Collection[str] | None = None,
    seed: int = 0,
) -> SearchResult:
    """Regularised (aging) evolution, Real et al. 2019; see the module docstring. With
    ``limits`` (and ``within``), only architectures within them (and among ``within``) are
    sampled, mutated into and scored."""
    if population_size < 1 or sample_size < 1:
        raise TrainfreeError("population and sample sizes must be at least 1")
    rng = random.Random(seed)
    limits = limits or Limits()
    run = _Run(REA, space, fitness, evaluations, seconds)
    admissible = _admissible(space, within, limits)
    population: deque[str] = deque()
    fresh = _candidates(space, rng, limits, admissible)
    for arch in fresh:
        if len(population) >= population_size or run.budget.exhausted():
            break
        run.query(arch)
        population.append(run.history[-1][0])
    while population and not run.budget.exhausted():
        sample = [rng.choice(population) for _ in range(sample_size)]
        values = run.fitness.values(sample)
        parent = sample[max(range(len(sample)), key=values.__getitem__)]
        child = _mutate(space, parent, rng, limits, fresh, admissible, run.scored)
        run.query(child)
        population.append(run.history[-1][0])
        population.popleft()
    return run.result()
