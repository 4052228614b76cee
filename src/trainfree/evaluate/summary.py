"""The correlation table of several objectives against one target (``trainfree correlate``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainfree.evaluate.correlation import correlate
from trainfree.proxies.ensemble import Objective


def correlation_table(
    objectives: Sequence[Objective],
    values: Callable[[str], np.ndarray],
    targets: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 0,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every metric of :func:`~trainfree.evaluate.correlation.correlate` per objective.

    ``values(name)`` gives the objective's scores aligned with ``targets`` (NaN where
    missing); each objective's direction is its own ``higher_is_better``. ``n_boot > 0`` adds a
    ``<metric>_ci`` bootstrap interval per metric.
    """
    return {
        o.name: correlate(
            values(o.name), targets, higher_is_better=o.higher_is_better, n_boot=n_boot, seed=seed
        )
        for o in objectives
    }
