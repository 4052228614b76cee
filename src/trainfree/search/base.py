"""What every search returns, and the evaluation/time budget of black-box searches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from trainfree.errors import TrainfreeError


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
