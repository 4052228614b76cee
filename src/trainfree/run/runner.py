"""Scoring many architectures with many proxies: store look-up, execution, ensembles."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from trainfree.errors import TrainfreeError
from trainfree.proxies import PROXIES, get_proxy
from trainfree.proxies.ensemble import Objective, parse_objective
from trainfree.run.executors import LocalExecutor, Outcome, Task
from trainfree.run.scoring import ScoreConfig, ScoreResult, group_by_preparation
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space
from trainfree.variants import split_names

Progress = Callable[[Outcome], None]


def progress_printer(total: int, *, label: str = "", steps: int = 20) -> Progress:
    """A :data:`Progress` callback that prints ``label done/total scores (rate/s)`` to stderr
    ``steps`` times over a run of ``total`` scores (for scripts; the CLI has a progress bar)."""
    done, start = 0, time.perf_counter()

    def progress(_outcome: Outcome) -> None:
        nonlocal done
        done += 1
        if done % max(1, total // steps) == 0 or done == total:
            rate = done / (time.perf_counter() - start)
            print(f"  {label}{done}/{total} scores ({rate:.2f}/s)", file=sys.stderr)

    return progress


def resolve_proxies(names: str | Sequence[str]) -> list[Objective]:
    """Parse ``"a,b,ensemble:c+d"`` or ``"all"`` into objectives (proxies and ensembles)."""
    items = split_names(names) if isinstance(names, str) else list(names)
    resolved: list[Objective] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item.lower() == "all":
            resolved.extend(parse_objective(name) for name in PROXIES.names())
            continue
        resolved.append(parse_objective(item))
    if not resolved:
        raise TrainfreeError("no proxy given (use --proxy NAMES or --proxy all)")
    return list(dict.fromkeys(resolved))


def objectives_of(proxies: Sequence[Objective | str]) -> list[Objective]:
    """Objectives as given, names parsed (:func:`parse_objective`)."""
    return [p if isinstance(p, Objective) else parse_objective(p) for p in proxies]


def component_names(objectives: Sequence[Objective | str]) -> list[str]:
    """Every single proxy that must be computed, ensembles expanded, in order."""
    return list(dict.fromkeys(n for o in objectives_of(objectives) for n in o.components))


@dataclass
class RunReport:
    """The scores of a run (ensembles included), the tasks that failed, and whether the run was
    interrupted (then ``results`` holds what was scored before; the store has it too).

    ``given`` maps each canonical architecture string to the string as the caller wrote it, so
    output joins back to the caller's table; ``requested`` counts the (architecture, proxy)
    scores asked for.
    """

    results: list[ScoreResult] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)
    requested: int = 0
    interrupted: bool = False

    def as_given(self, arch: str) -> str:
        """``arch`` (canonical) as the caller wrote it."""
        return self.given.get(arch, arch)

    def values(self, proxy: str, archs: Sequence[str]) -> np.ndarray:
        """Scores of ``proxy`` aligned with ``archs`` (NaN where missing or failed)."""
        table = {r.arch: r.value for r in self.results if r.proxy == proxy}
        return np.array([table.get(a, np.nan) for a in archs], dtype=float)

    def seconds_per_arch(self, objective: Objective | str) -> float:
        """Seconds per architecture spent on ``objective``'s component scores."""
        (resolved,) = objectives_of([objective])
        chosen = [r for r in self.results if r.proxy in resolved.components]
        archs = {r.arch for r in chosen}
        return sum(r.seconds for r in chosen) / max(1, len(archs))


def score_many(
    space: str,
    archs: Sequence[str],
    proxies: Sequence[Objective | str],
    config: ScoreConfig,
    *,
    store: ResultStore | None = None,
    executor: object | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Score every (arch, proxy) pair, reading finished ones from ``store`` and writing new ones.

    The missing scores of one architecture run as tasks of proxies that share a preparation
    (:func:`~trainfree.run.scoring.group_by_preparation`), so common work is done once.

    Ensembles are aggregated over ``archs`` once their components are known: an ensemble
    score is a rank within this set of architectures, not an absolute value.

    Ctrl-C (``KeyboardInterrupt``) ends the run early with ``report.interrupted`` set: every
    score finished before is in the report and the store, so a rerun resumes.
    """
    space_obj = get_space(space)
    space = space_obj.name  # a variant's canonical name keys its scores
    config = config.for_space(space_obj)
    proxies = objectives_of(proxies)
    report = RunReport()
    for arch in archs:
        report.given.setdefault(space_obj.canonical(arch), arch)
    archs = list(report.given)
    report.requested = len(archs) * len(component_names(proxies))
    pending: list[Task] = []
    groups = group_by_preparation(component_names(proxies), config)
    for arch in archs:
        for group in groups:
            todo = []
            for name in group:
                spec = get_proxy(name)
                stored = store.get(space, arch, name, config.resolve(spec)) if store else None
                if stored is not None and stored.status == "ok":
                    report.results.append(stored.as_result())
                    if progress:
                        task = Task(space, arch, (name,), config)
                        progress(Outcome(task, name, stored.as_result(), None, 0.0, cached=True))
                else:
                    todo.append(name)
            if todo:
                pending.append(Task(space, arch, tuple(todo), config))
    try:
        _collect(report, pending, space, config, store, executor, progress)
    except KeyboardInterrupt:
        report.interrupted = True
    _aggregate_ensembles(report, archs, proxies)
    return report


def _collect(
    report: RunReport,
    pending: list[Task],
    space: str,
    config: ScoreConfig,
    store: ResultStore | None,
    executor: object | None,
    progress: Progress | None,
) -> None:
    """Run ``pending`` on ``executor`` and file each outcome in ``report`` and ``store``."""
    for outcome in (executor or LocalExecutor()).map_unordered(pending):
        task = outcome.task
        if outcome.result is not None:
            report.results.append(outcome.result)
            if store:
                device = config.provenance(get_proxy(outcome.proxy))
                store.put(space, outcome.result, device=device)
        else:
            report.failures.append(outcome)
            if store:
                resolved = config.resolve(get_proxy(outcome.proxy))
                store.put_failure(
                    space, task.arch, outcome.proxy, resolved, outcome.error or "", outcome.seconds
                )
        if progress:
            progress(outcome)


def _aggregate_ensembles(report: RunReport, archs: list[str], proxies: Sequence[Objective]) -> None:
    for ensemble in (p for p in proxies if p.is_ensemble):
        columns = {name: report.values(name, archs) for name in ensemble.components}
        complete = np.all([np.isfinite(v) for v in columns.values()], axis=0)
        if not complete.any():
            continue
        kept = [a for a, ok in zip(archs, complete, strict=True) if ok]
        aggregate = ensemble.aggregate({n: v[complete] for n, v in columns.items()})
        seconds = {r.arch: 0.0 for r in report.results}
        for r in report.results:
            if r.proxy in ensemble.components:
                seconds[r.arch] += r.seconds
        config = next(r.config for r in report.results if r.proxy == ensemble.components[0])
        report.results.extend(
            ScoreResult(a, ensemble.name, float(v), 0.0, seconds[a], config)
            for a, v in zip(kept, aggregate, strict=True)
        )
