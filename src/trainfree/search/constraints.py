"""Hard resource limits for black-box searches: MACs, FLOPs and parameters.

Units: MACs are multiply-accumulates; FLOPs count 2 per MAC (trainfree's ``flops`` proxy). Papers
on mobile networks (MnasNet, ZiCo, AZ-NAS, InTrain's "450M FLOPs") say "FLOPs" for
multiply-accumulates, so their "450M FLOPs" is ``max_macs=450e6`` here (``--max-macs 450M``).
Counts are the space's :meth:`~trainfree.spaces.SearchSpace.complexity` of an architecture at
the space's own input size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

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


def _human(value: float) -> str:
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"
