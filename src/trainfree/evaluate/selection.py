"""Honest ensemble selection: choose an ensemble's members by looking at accuracies on some
architectures, report it on the others.

Choosing which proxies to combine by their correlation with trained accuracy fits the choice to
those accuracies, so the correlation measured on the same architectures is optimistic. Here the
members are chosen on a *selection* set of architectures and the result is measured on the
disjoint *held-out* rest, where the choice has never looked (the same rule as a validation split;
the rank aggregate is recomputed on the held-out architectures alone, as it would be on a new
population).

Search: every subset of the candidates of ``min_size..max_size`` members, aggregated with the
rank ``method`` (:func:`trainfree.proxies.ensemble.rank_aggregate`), scored by ``criterion``
(a :data:`~trainfree.evaluate.correlation.CORRELATE_METRICS` name) on the selection set; ties are
broken towards fewer members, then the candidates' order. Above ``max_subsets`` subsets it
grows the ensemble greedily instead (add the member that improves the criterion most; stop when
none does).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
from numpy.typing import ArrayLike

from trainfree.errors import TrainfreeError
from trainfree.evaluate.correlation import CORRELATE_METRICS, MIN_PAIRS, correlate
from trainfree.proxies.ensemble import METHODS, rank_aggregate


@dataclass(frozen=True)
class Selection:
    """The chosen members and what they score on either side of the split."""

    members: tuple[str, ...]
    method: str
    criterion: str
    selection_index: np.ndarray
    held_out_index: np.ndarray
    selection_value: float
    held_out: dict


def split(n: int, select_on: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(selection, held_out)`` of ``n`` architectures: the first ``select_on``
    (``seed=None``) or ``select_on`` drawn by a seeded permutation, and the rest."""
    if not MIN_PAIRS <= select_on <= n - MIN_PAIRS:
        raise TrainfreeError(
            f"select_on must leave at least {MIN_PAIRS} architectures on each side "
            f"(got {select_on} of {n})"
        )
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    return np.sort(order[:select_on]), np.sort(order[select_on:])


def _aggregate(scores: Mapping[str, np.ndarray], signs: Mapping[str, bool], members: Sequence[str],
               index: np.ndarray, method: str) -> np.ndarray:  # fmt: skip
    """The members' aggregate (or the single member's oriented score) on ``index``."""
    if len(members) == 1:
        values = scores[members[0]][index]
        return values if signs[members[0]] else -values
    return rank_aggregate({m: scores[m][index] for m in members}, signs, method)


def evaluate_on(
    scores: Mapping[str, ArrayLike],
    higher_is_better: Mapping[str, bool],
    members: Sequence[str],
    targets: ArrayLike,
    index: np.ndarray,
    *,
    method: str = "azlog",
    n_boot: int = 0,
    seed: int = 0,
) -> dict:
    """:func:`~trainfree.evaluate.correlation.correlate` of the ensemble of ``members``
    (one member: that proxy alone), its ranks computed on the architectures ``index`` alone."""
    arrays = {m: np.asarray(scores[m], dtype=float) for m in members}
    values = _aggregate(arrays, higher_is_better, members, np.asarray(index), method)
    truth = np.asarray(targets, dtype=float)[index]
    return correlate(values, truth, n_boot=n_boot, seed=seed)


def _subsets(candidates: Sequence[str], low: int, high: int) -> list[tuple[str, ...]]:
    return [c for size in range(low, high + 1) for c in itertools.combinations(candidates, size)]


def select_ensemble(
    scores: Mapping[str, ArrayLike],
    higher_is_better: Mapping[str, bool],
    targets: ArrayLike,
    *,
    select_on: int,
    seed: int | None = None,
    method: str = "azlog",
    criterion: str = "kendall",
    min_size: int = 1,
    max_size: int | None = None,
    max_subsets: int = 20000,
    costs: Mapping[str, float] | None = None,
    budget: float | None = None,
    n_boot: int = 1000,
) -> Selection:
    """Choose members among ``scores`` (proxy -> one value per architecture, NaN-free, aligned
    with ``targets``) on ``select_on`` architectures; report them on the rest (module docstring).

    ``held_out`` is :func:`~trainfree.evaluate.correlation.correlate`'s result there, with
    ``n_boot`` bootstrap intervals. With ``budget``, only ensembles whose members' ``costs``
    (seconds per architecture) add up to at most ``budget`` are considered.
    """
    if method not in METHODS:
        raise TrainfreeError(f"unknown rank method {method!r} (known: {', '.join(METHODS)})")
    if criterion not in CORRELATE_METRICS:
        known = ", ".join(CORRELATE_METRICS)
        raise TrainfreeError(f"unknown selection criterion {criterion!r} (known: {known})")
    candidates = list(scores)
    arrays = {name: np.asarray(scores[name], dtype=float) for name in candidates}
    truth = np.asarray(targets, dtype=float)
    for name, values in arrays.items():
        if values.shape != truth.shape or not np.isfinite(values).all():
            raise TrainfreeError(f"scores of {name!r} must be finite and aligned with the targets")
    high = len(candidates) if max_size is None else min(max_size, len(candidates))
    if not 1 <= min_size <= high:
        raise TrainfreeError(f"need 1 <= min_size <= max_size, got {min_size}..{high}")
    if budget is not None:
        if costs is None or any(c not in costs for c in candidates):
            raise TrainfreeError("a budget needs the cost of every candidate")
        candidates = [c for c in candidates if costs[c] <= budget]
        if not candidates:
            raise TrainfreeError(f"no candidate costs at most {budget} s per architecture")
        high = min(high, len(candidates))
    chosen_idx, held_idx = split(len(truth), select_on, seed)
    metric = CORRELATE_METRICS[criterion]

    def fit(members: Sequence[str]) -> float:
        if budget is not None and sum(costs[m] for m in members) > budget:
            return -np.inf
        values = _aggregate(arrays, higher_is_better, members, chosen_idx, method)
        return metric(values, truth[chosen_idx])

    count = sum(comb(len(candidates), size) for size in range(min_size, high + 1))
    if count <= max_subsets:
        best = max(_subsets(candidates, min_size, high), key=lambda m: (fit(m), -len(m)))
    else:
        best = _greedy(candidates, fit, min_size, high)
    held = evaluate_on(arrays, higher_is_better, best, truth, held_idx, method=method,
                       n_boot=n_boot)  # fmt: skip
    return Selection(tuple(best), method, criterion, chosen_idx, held_idx, fit(best), held)


def _greedy(candidates: Sequence[str], fit, low: int, high: int) -> tuple[str, ...]:
    """Forward selection: add the best member while it helps (always up to ``low`` members)."""
    members: tuple[str, ...] = ()
    current = -np.inf
    while len(members) < high:
        trials = [(fit((*members, c)), (*members, c)) for c in candidates if c not in members]
        value, grown = max(trials, key=lambda t: t[0])
        if value <= current and len(members) >= low:
            break
        members, current = grown, value
    return members
