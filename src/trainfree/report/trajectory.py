"""A search run step by step, in units a person can read.

A rank-ensemble fitness is relative to the architectures seen so far (the leader's azlog
aggregate is 0 by construction), so the report does not plot it. It replays the run instead:
after every query, the *leader* is the architecture the search would return if stopped there
(the best of the architectures evaluated so far under the run's objective, recomputed over all
of them, as :meth:`trainfree.search.fitness.Fitness.values` does; ties go to the first seen).
The report then shows what the leader is worth: its trained accuracy when a benchmark table is
given, and its mean percentile (the share of the run's architectures it beats, averaged over
the objective's components) in every case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from trainfree.errors import TrainfreeError
from trainfree.proxies.ensemble import Objective, objective_of
from trainfree.report.reading import RunLog, direction
from trainfree.variants import split_names

#: How the leader is chosen when a run's objective cannot be rebuilt (a proxy not registered in
#: this installation, an old store): the best fitness recorded at query time. That is exact for a
#: single proxy and only approximate for a rank ensemble, whose fitness is relative.
RECORDED = "recorded fitness"

Ranker = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Trajectory:
    """One replayed run.

    ``steps`` has a row per query (``step`` from 1, ``arch``, ``new``: first time queried,
    ``leader``, ``changed``: the leader differs from the previous step's, ``percentile``: the
    leader's mean component percentile, and with a benchmark ``leader_target`` and
    ``best_target``, the best target among the architectures queried so far).
    ``archs`` has a row per distinct architecture: its raw component scores and percentiles.
    ``chosen_by`` names what ranks the architectures (the objective, or :data:`RECORDED`).
    """

    run: str
    chosen_by: str
    components: tuple[str, ...]
    steps: pd.DataFrame
    archs: pd.DataFrame

    @property
    def evaluations(self) -> int:
        return len(self.steps)

    @property
    def distinct(self) -> int:
        return len(self.archs)

    @property
    def leader_changes(self) -> pd.DataFrame:
        """The steps where the leader changed (the first step included), with the new leader's
        raw component scores and percentiles."""
        changes = self.steps[self.steps["changed"]]
        return changes.drop(columns="percentile").join(self.archs, on="leader")


def _objective(log: RunLog, components: dict[str, dict[str, float]]) -> Objective | None:
    """The run's objective, when it is known, registered here, and its components' scores were
    recorded with every event."""
    if log.objective is None:
        return None
    text = log.objective
    try:
        objective = objective_of(split_names(text) if "," in text else text)
    except TrainfreeError:
        return None
    wanted = set(objective.components)
    return objective if all(wanted <= set(c) for c in components.values()) else None


def _ranker(log: RunLog, components: dict[str, dict[str, float]]) -> tuple[str, Ranker]:
    """What ranks the run's architectures and a function ``archs -> values`` (larger = better):
    the run's objective (:func:`_objective`), else the fitness each architecture got when it
    was first queried."""
    objective = _objective(log, components)
    if objective is not None:

        def combine(archs: Sequence[str]) -> np.ndarray:
            scores = {p: [components[a][p] for a in archs] for p in objective.components}
            return np.asarray(objective.combine(scores), dtype=float)

        return objective.name, combine
    first: dict[str, float] = {}
    for event in log.events:
        first.setdefault(event.arch, np.nan if event.fitness is None else event.fitness)
    return RECORDED, lambda archs: np.array([first[a] for a in archs], dtype=float)


def _percentiles(archs: pd.DataFrame, components: Sequence[str]) -> pd.DataFrame:
    """Per architecture and component: the share (%) of the run's architectures it beats."""
    out = pd.DataFrame(index=archs.index)
    for name in components:
        oriented = archs[name].to_numpy(dtype=float) * direction(name)
        beaten = rankdata(oriented, method="min") - 1  # how many are strictly worse
        out[f"{name} %"] = 100.0 * beaten / len(oriented)
    return out


def replay(log: RunLog, truth: pd.Series | None = None) -> Trajectory:
    """Replay ``log``; with ``truth`` (target value by architecture) add the targets."""
    if not log.events:
        raise TrainfreeError(f"search run {log.name!r} has no events")
    components: dict[str, dict[str, float]] = {}
    for event in log.events:
        components.setdefault(event.arch, event.scores)
    chosen_by, combine = _ranker(log, components)
    order: list[str] = []  # in the order of first queries
    known: set[str] = set()
    leaders: list[str] = []
    leader = ""
    for event in log.events:
        if event.arch not in known:  # a repeat changes nothing
            known.add(event.arch)
            order.append(event.arch)
            values = combine(order)
            leader = order[int(np.nanargmax(values))] if np.isfinite(values).any() else order[0]
        leaders.append(leader)
    names = tuple(sorted({p for scores in components.values() for p in scores}))
    archs = pd.DataFrame.from_dict(components, orient="index").reindex(columns=list(names))
    archs = archs.join(_percentiles(archs, names))
    archs["percentile"] = archs[[f"{n} %" for n in names]].mean(axis=1) if names else np.nan
    steps = pd.DataFrame({"step": np.arange(1, len(leaders) + 1)})
    steps["arch"] = [e.arch for e in log.events]
    steps["new"] = ~steps["arch"].duplicated()
    steps["leader"] = leaders
    steps["changed"] = steps["leader"].ne(steps["leader"].shift())
    steps["percentile"] = steps["leader"].map(archs["percentile"])
    if truth is not None:
        lookup = truth[~truth.index.duplicated()]
        archs["target"] = archs.index.map(lookup)
        steps["leader_target"] = steps["leader"].map(lookup)
        queried = steps["arch"].map(lookup).fillna(-np.inf)
        steps["best_target"] = queried.cummax().replace(-np.inf, np.nan)
    return Trajectory(log.name, chosen_by, names, steps, archs)
