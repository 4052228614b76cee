"""Hard resource limits for black-box searches: MACs, FLOPs and parameters.

Units: MACs are multiply-accumulates; FLOPs count 2 per MAC (trainfree's ``flops`` proxy). Papers
on mobile networks (MnasNet, ZiCo, AZ-NAS, InTrain's "450M FLOPs") say "FLOPs" for
multiply-accumulates, so their "450M FLOPs" is ``max_macs=450e6`` here (``--max-macs 450M``).
Counts are the space's :meth:`~trainfree.spaces.SearchSpace.complexity` of an architecture at
the space's own input size.

:class:`Admissible` restricts a search further to a given finite set of architectures (e.g. the
rows of a benchmark table, so that every architecture a search finds has a trained accuracy),
and projects a mutant outside the set onto its nearest members.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from trainfree.errors import TrainfreeError
from trainfree.spaces import SearchSpace

_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_COUNT = re.compile(
    r"^\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<suffix>[kKMGT]?)\s*$"
)


def parse_count(text: str | float | int) -> float:
    """``"400M"`` -> 4e8; also ``"1.5G"``, ``"25k"``, ``"3e8"`` and plain numbers."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _COUNT.match(text)
        if match is None:
            raise TrainfreeError(f"{text!r} is not a count: use e.g. 400M, 1.5G, 25k or 3e8")
        value = float(match["number"]) * _SUFFIX[match["suffix"].upper()]
    if not math.isfinite(value) or value < 0:
        raise TrainfreeError(f"{text!r} is not a count: it must be a finite, non-negative number")
    return value


@dataclass(frozen=True)
class Limits:
    """Inclusive bounds on an architecture's MACs, FLOPs and parameters (``None``: no bound)."""

    min_macs: float | None = None
    max_macs: float | None = None
    min_flops: float | None = None
    max_flops: float | None = None
    min_params: float | None = None
    max_params: float | None = None

    @classmethod
    def parse(cls, **texts: str | float | None) -> Limits:
        """Limits from texts such as ``max_macs="400M"``; ``None`` values are no bound."""
        limits = cls(**{k: None if v is None else parse_count(v) for k, v in texts.items()})
        for what in ("macs", "flops", "params"):
            low, high = getattr(limits, f"min_{what}"), getattr(limits, f"max_{what}")
            if low is not None and high is not None and low > high:
                raise TrainfreeError(f"--min-{what} {low:g} is above --max-{what} {high:g}")
        return limits

    def active(self) -> dict[str, float]:
        """The bounds that are set, by field name."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}

    def __bool__(self) -> bool:
        return bool(self.active())

    def admits(self, space: SearchSpace, arch: str) -> bool:
        """Whether ``arch`` lies within every bound."""
        if not self:
            return True
        counts = space.complexity(arch)
        for name, bound in self.active().items():
            side, what = name.split("_", 1)
            value = counts[what]
            if (side == "min" and value < bound) or (side == "max" and value > bound):
                return False
        return True

    def describe(self) -> str:
        """``"macs <= 400M, params >= 1M"`` for messages."""
        shown = []
        for name, bound in self.active().items():
            side, what = name.split("_", 1)
            shown.append(f"{what} {'>=' if side == 'min' else '<='} {_human(bound)}")
        return ", ".join(shown) or "no limits"

    def as_json(self) -> dict[str, Any]:
        return self.active()


#: Tokens of the edit distance: runs of letters/underscores (``se``, ``nor_conv_``), else one
#: character (a digit, a separator).
_TOKEN = re.compile(r"[A-Za-z_]+|[^A-Za-z_]")


class Admissible:
    """The architectures of ``archs`` (canonicalised, in order, duplicates dropped) that lie
    within ``limits``: the only ones a search restricted to them samples, mutates into and
    scores. Raises a one-line :class:`TrainfreeError` when none is left.

    :meth:`nearest` is the local move back into the set: the members at the smallest token edit
    distance (Levenshtein over the canonical strings split by :data:`_TOKEN`; for ``mnasnet``
    and the digit-code spaces one edit per changed choice) from a given architecture.
    """

    def __init__(self, space: SearchSpace, archs: Iterable[str], limits: Limits | None = None):
        limits = limits or Limits()
        given = list(dict.fromkeys(space.canonical(a) for a in archs))
        self.space = space
        self.archs = [a for a in given if limits.admits(space, a)]
        if not self.archs:
            within = f" within {limits.describe()}" if limits else ""
            raise TrainfreeError(
                f"none of the {len(given):,} given architectures of {space.name} is{within}"
                + (": loosen the limits" if given else "")
            )
        self._index = {a: i for i, a in enumerate(self.archs)}
        self._vocab: dict[str, int] = {}
        rows = [[self._vocab.setdefault(t, len(self._vocab)) for t in _TOKEN.findall(a)]
                for a in self.archs]  # fmt: skip
        self._lengths = np.array([len(r) for r in rows])
        self._table = np.full((len(rows), int(self._lengths.max())), -1, dtype=np.int32)
        for i, row in enumerate(rows):
            self._table[i, : len(row)] = row

    def __len__(self) -> int:
        return len(self.archs)

    def __contains__(self, arch: str) -> bool:
        return self.space.canonical(arch) in self._index

    def shuffled(self, rng: random.Random) -> Iterator[str]:
        """Every member once, in a uniformly random order."""
        return iter(rng.sample(self.archs, len(self.archs)))

    def distances(self, arch: str) -> np.ndarray:
        """Token edit distance from ``arch`` to every member (one vectorised Levenshtein row
        update per token of ``arch``)."""
        n, width = self._table.shape
        cols = np.arange(width + 1, dtype=np.int32)
        row = np.broadcast_to(cols, (n, width + 1)).copy()
        tokens = [self._vocab.get(t, -2) for t in _TOKEN.findall(self.space.canonical(arch))]
        for i, token in enumerate(tokens, 1):
            step = np.empty_like(row)
            step[:, 0] = i
            np.minimum(row[:, 1:] + 1, row[:, :-1] + (self._table != token), out=step[:, 1:])
            row = np.minimum.accumulate(step - cols, axis=1) + cols  # insertions
        return row[np.arange(n), self._lengths]

    def nearest(self, arch: str, rng: random.Random, *, exclude: Collection[str] = ()) -> str:
        """A uniformly chosen member at the smallest distance from ``arch`` among those not in
        ``exclude`` (canonical strings), or among all members when every one is excluded."""
        distances = self.distances(arch)
        barred = [self._index[a] for a in exclude if a in self._index]
        if len(barred) < len(self.archs):
            distances[barred] = np.iinfo(distances.dtype).max
        closest = np.flatnonzero(distances == distances.min())
        return self.archs[int(closest[rng.randrange(len(closest))])]


def _human(value: float) -> str:
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"
