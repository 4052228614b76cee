"""The leader of a fitness-driven search, in units a person can read.

A rank ensemble's fitness is the leader's log rank among the architectures seen so far (0 by
construction for the leader), which says nothing to a person. :class:`Leader` describes the
current best of a running search instead, by each component's percentile among the
architectures scored so far and, with a benchmark table, by its trained accuracy (and the best
accuracy seen so far). A finished run is replayed from the store by
:func:`trainfree.report.trajectory.replay`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainfree.evaluate.standing import Standing
from trainfree.proxies import get_proxy
from trainfree.search.fitness import Fitness


class Leader:
    """Follows ``fitness``'s evaluations; ``truth`` (optional) gives trained accuracies."""

    def __init__(self, fitness: Fitness, truth: Standing | None) -> None:
        self.fitness = fitness
        self.truth = truth

    def _columns(self, archs: Sequence[str]) -> dict[str, np.ndarray]:
        return {p: np.asarray(v, dtype=float) for p, v in self.fitness.columns(archs).items()}

    def _best(self, columns: dict[str, np.ndarray]) -> int:
        """Index of the fittest, an ensemble ranking the given architectures among themselves."""
        return int(np.argmax(self.fitness.objective.combine(columns)))

    def _shares(self, columns: dict[str, np.ndarray], index: int) -> dict[str, float]:
        shares = {}
        for proxy, values in columns.items():
            oriented = values if get_proxy(proxy).higher_is_better else -values
            shares[proxy] = float(100.0 * (oriented < oriented[index]).mean())
        return shares

    def percentiles(self, arch: str) -> dict[str, float]:
        """Per component proxy: the share (%) of the architectures scored so far that ``arch``
        beats, in the proxy's own direction."""
        archs = self.fitness.evaluated()
        return self._shares(self._columns(archs), archs.index(self.fitness.space.canonical(arch)))

    def current(self) -> str | None:
        """The fittest architecture evaluated so far (``None`` before the first)."""
        evaluated = self.fitness.evaluated()
        return evaluated[self._best(self._columns(evaluated))] if evaluated else None

    def status(self) -> str:
        """One line on the current leader: its trained accuracy with a table, else its
        components' percentiles."""
        current = self.current()
        if current is None:
            return ""
        if self.truth is not None:
            value = self.truth.value(current)
            seen = [v for a in self.fitness.evaluated() if (v := self.truth.value(a)) is not None]
            shown = "not in table" if value is None else f"{value:.2f}"
            best = f", best seen {max(seen):.2f}" if seen else ""
            return f"leader's {self.truth.target} {shown}{best}"
        shares = self.percentiles(current)
        return "leader beats " + ", ".join(f"{p} {v:.0f}%" for p, v in shares.items())
