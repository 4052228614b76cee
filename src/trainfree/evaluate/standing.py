"""Where an architecture stands in a benchmark table: its value, rank and percentile."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainfree.evaluate.tables import BenchmarkTable


@dataclass(frozen=True)
class Standing:
    """One benchmark column over a whole table, to look architectures up and rank them."""

    target: str
    by_arch: dict[str, float]
    canonical: Callable[[str], str] = str

    @classmethod
    def of(cls, table: BenchmarkTable, target: str) -> Standing:
        values = table.values(target)  # an unknown column fails here, with the known ones
        canonical = table.space.canonical if table.space is not None else str
        return cls(target, dict(zip(table.archs, values.tolist(), strict=True)), canonical)

    def value(self, arch: str) -> float | None:
        """The target value of ``arch``, ``None`` when it has none."""
        value = self.by_arch.get(self.canonical(arch))
        return None if value is None or math.isnan(value) else value

    def standing(
        self, arch: str, *, within: Callable[[str], bool] | None = None
    ) -> dict[str, Any]:
        """``target_value`` of ``arch`` (``None`` if absent) and, when present, its ``rank``
        (1 = best), ``percentile`` (share of architectures it beats), ``best_target_value`` and
        ``n_archs``, among the table's architectures (those passing ``within``, e.g. a budget,
        when given)."""
        value = self.value(arch)
        if value is None:
            return {"target_value": None}
        column = np.array(
            [
                v
                for a, v in self.by_arch.items()
                if not math.isnan(v) and (within is None or within(a))
            ]
        )
        if column.size == 0:
            return {"target_value": value}
        return {
            "target_value": value,
            "rank": int((column > value).sum()) + 1,
            "percentile": float(100.0 * (column < value).mean()),
            "best_target_value": float(column.max()),
            "n_archs": int(column.size),
        }
