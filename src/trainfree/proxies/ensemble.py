"""Rank ensembles of proxies: population-level aggregation of per-architecture scores.

An ensemble scores a *set* of architectures: each component proxy is computed per architecture,
the values are turned into ranks over the set (the best gets the highest rank) and the ranks are
combined. Methods:

* ``mean_rank``: mean of the components' average ranks (ties share the mean of their ranks);
* ``azlog``: AZ-NAS's non-linear aggregation ``Σ_m log(rank_m / N)`` (Lee & Ham, CVPR 2024;
  ``scipy.stats.rankdata`` ascending, so the best of N gets rank N and log 1 = 0, and one poor
  component pulls the sum down hard);
* ``rank_sum``: TE-NAS's sum of dense ranks (Chen et al., ICLR 2021; ties share a rank and the
  next distinct value gets the next integer).

Names: ``ensemble:naswot+synflow+params`` (method ``mean_rank``) or
``ensemble[azlog]:naswot+synflow+params``; the aliases in :data:`NAMED_ENSEMBLES` (``tenas``) are
accepted bare, unless a proxy of that name is registered, and as ``ensemble:tenas``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from trainfree.errors import TrainfreeError
from trainfree.proxies.base import PROXIES, get_proxy

METHODS = ("mean_rank", "azlog", "rank_sum")
_PREFIXES = ("ensemble:", "ensemble[")
_SYNTAX = re.compile(r"^ensemble(?:\[(?P<method>[a-z_]+)\])?:(?P<body>.+)$")


def _oriented(values: ArrayLike, name: str, higher_is_better: Mapping[str, bool]) -> np.ndarray:
    """``values`` as a float vector in which larger is better."""
    if name not in higher_is_better:
        raise TrainfreeError(f"rank_aggregate: no higher_is_better entry for {name!r}")
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise TrainfreeError(f"rank_aggregate: scores of {name!r} must be one-dimensional")
    if np.isnan(arr).any():
        rows = np.flatnonzero(np.isnan(arr)).tolist()
        raise TrainfreeError(f"rank_aggregate: {name!r} has NaN scores at rows {rows}")
    return arr if higher_is_better[name] else -arr


def rank_aggregate(
    scores: Mapping[str, ArrayLike],
    higher_is_better: Mapping[str, bool],
    method: str = "mean_rank",
) -> np.ndarray:
    """Combine per-proxy score vectors over the same N architectures; higher result = better."""
    if method not in METHODS:
        raise TrainfreeError(f"unknown rank method {method!r} (known: {', '.join(METHODS)})")
    if not scores:
        raise TrainfreeError("rank_aggregate needs at least one score vector")
    columns = [_oriented(values, name, higher_is_better) for name, values in scores.items()]
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise TrainfreeError(f"rank_aggregate: score vectors differ in length {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        return np.zeros(0)
    if method == "rank_sum":
        return np.sum([rankdata(c, method="dense") for c in columns], axis=0).astype(float)
    ranks = np.array([rankdata(c, method="average") for c in columns])
    if method == "azlog":
        return np.log(ranks / n).sum(axis=0)
    return ranks.mean(axis=0)


@dataclass(frozen=True)
class Objective:
    """What scores rank architectures by: one proxy, or a rank ensemble of proxies.

    ``method`` is the ensemble's rank method (:data:`METHODS`), ``None`` for a single proxy
    (then ``components == (name,)`` and ``higher_is_better`` is the proxy's). An ensemble's
    aggregate is always higher-is-better. :meth:`combine` orients values once, so every
    consumer (correlation, search fitness, report) reads "larger is better".
    """

    name: str
    components: tuple[str, ...]
    method: str | None = "mean_rank"
    higher_is_better: bool = True

    @property
    def is_ensemble(self) -> bool:
        return self.method is not None

    def validate(self) -> Objective:
        """Check the method and that every component is a registered proxy; return self."""
        if not self.is_ensemble:
            get_proxy(self.name)
            return self
        if self.method not in METHODS:
            known = ", ".join(METHODS)
            raise TrainfreeError(f"unknown rank method {self.method!r} (known: {known})")
        if len(self.components) < 2 or len(set(self.components)) != len(self.components):
            raise TrainfreeError(
                f"ensemble {self.name!r} needs at least two distinct proxies, "
                f"got {list(self.components)}"
            )
        for component in self.components:
            get_proxy(component)  # raises TrainfreeError listing the known proxies
        return self

    def aggregate(self, scores: Mapping[str, ArrayLike]) -> np.ndarray:
        """Rank-aggregate ``scores`` (one vector per component, same architecture order)."""
        missing = [c for c in self.components if c not in scores]
        if missing:
            raise TrainfreeError(f"objective {self.name!r} is missing scores for {missing}")
        signs = {c: get_proxy(c).higher_is_better for c in self.components}
        return rank_aggregate({c: scores[c] for c in self.components}, signs, self.method)

    def combine(self, scores: Mapping[str, ArrayLike]) -> np.ndarray:
        """The objective's value per architecture, larger = better: a single proxy's values
        (negated when lower is better) or the ensemble's rank aggregate."""
        if self.is_ensemble:
            return self.aggregate(scores)
        if self.name not in scores:
            raise TrainfreeError(f"objective {self.name!r} is missing its scores")
        values = np.asarray(scores[self.name], dtype=float)
        return values if self.higher_is_better else -values


#: The name rank ensembles were introduced under; every ensemble is an :class:`Objective`.
Ensemble = Objective


def single(proxy: str) -> Objective:
    """The :class:`Objective` of one registered proxy (or proxy variant)."""
    spec = get_proxy(proxy)
    return Objective(spec.name, (spec.name,), None, spec.higher_is_better)


def parse_objective(name: str, *, method: str | None = None) -> Objective:
    """A proxy or an ensemble name (:func:`parse_ensemble`) as an :class:`Objective`;
    ``method`` overrides an ensemble's rank method."""
    ensemble = parse_ensemble(name)
    if ensemble is None:
        return single(name)
    return ensemble if method is None else replace(ensemble, method=method).validate()


def objective_of(proxies: str | Sequence[str], *, method: str | None = None) -> Objective:
    """One name (:func:`parse_objective`), or a list of proxy names as an ensemble of
    ``method`` (default ``mean_rank``)."""
    if isinstance(proxies, str):
        return parse_objective(proxies, method=method)
    if len(proxies) == 1:
        return parse_objective(proxies[0], method=method)
    names = tuple(get_proxy(p.strip()).name for p in proxies)
    return Objective("ensemble:" + "+".join(names), names, method or "mean_rank").validate()


#: TE-NAS (Chen et al., ICLR 2021): dense ranks of the NTK condition number (lower is better)
#: and of the number of linear regions (higher is better), summed. The TE-NAS search is
#: registered under the same name.
TENAS = Objective("tenas", ("tenas_ntk", "tenas_lr"), "rank_sum")

NAMED_ENSEMBLES: Mapping[str, Objective] = MappingProxyType(
    {
        e.name: e
        for e in (
            TENAS,
            # AZ-NAS (Lee & Ham, CVPR 2024; official NB201 notebook): Σ log(rank / N) of its
            # four proxies (trainfree.proxies.azn).
            Objective(
                "azn",
                ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity"),
                "azlog",
            ),
            # VKDNW_agg (Týbl & Neumann, CVPR 2025): Σ log rank of VKDNW_single, Jacov, AZ-NAS's
            # expressivity and trainability, and FLOPs (the authors' NB201 analysis code).
            Objective(
                "vkdnw_agg",
                ("vkdnw", "jacov", "az_expressivity", "az_trainability", "az_complexity"),
                "azlog",
            ),
        )
    }
)


def parse_ensemble(name: str) -> Objective | None:
    """The ensemble :class:`Objective` that ``name`` denotes, or None for a non-ensemble name.

    Accepts ``ensemble:a+b+c``, ``ensemble[METHOD]:a+b+c``, ``ensemble:ALIAS`` and a bare alias
    that is not also a proxy name. Raises :class:`TrainfreeError` for a malformed ensemble name,
    an unknown method or an unregistered component.
    """
    key = name.strip().lower()
    if key in NAMED_ENSEMBLES and key not in PROXIES:
        return NAMED_ENSEMBLES[key].validate()
    if not key.startswith(_PREFIXES):
        return None
    match = _SYNTAX.match(key)
    if match is None:
        raise TrainfreeError(
            f"malformed ensemble name {name!r}: use ensemble:a+b or ensemble[METHOD]:a+b"
        )
    body, method = match["body"], match["method"]
    if body in NAMED_ENSEMBLES and "+" not in body:
        alias = NAMED_ENSEMBLES[body]
        ensemble = alias if method is None else Ensemble(key, alias.components, method)
        return ensemble.validate()
    components = tuple(part.strip() for part in body.split("+"))
    if any(not c for c in components):
        raise TrainfreeError(f"malformed ensemble name {name!r}: empty component")
    return Ensemble(key, components, method or "mean_rank").validate()
