"""A small result store with known answers for the report's tests (no network is built)."""

from __future__ import annotations

import faulty  # noqa: F401  (registers test_sum and the lower-is-better test_lower)
import numpy as np

from trainfree.run.scoring import ResolvedConfig, ScoreResult
from trainfree.run.store import ResultStore

CONFIG = ResolvedConfig("synthetic", 64, None, None, "default", 0, 1)
ARCHS = [f"a{i:02d}" for i in range(30)]
ACCURACY = np.linspace(60.0, 94.0, len(ARCHS))
#: A search run's queries: 40 queries of the 30 architectures (10 repeats).
QUERIES = ARCHS[:20] + ARCHS[5:15] + ARCHS[20:]
RUN = "rea ensemble:params+test_lower seed=0"


def fill(path, space: str = "nb201", run: str | None = RUN) -> dict[str, np.ndarray]:
    """params grows over 8 decades with accuracy; test_lower is minus accuracy (perfect, lower
    is better); test_sum is noise with one floor value far below the rest; one failure; the
    search run ``run`` (none when None). Returns the scores by proxy."""
    noise = np.random.default_rng(0).normal(size=len(ARCHS))
    noise[3] = -1490.0
    columns = {"params": 10 ** np.linspace(2, 10, len(ARCHS)), "test_lower": -ACCURACY}
    columns["test_sum"] = noise
    with ResultStore(path) as store:
        for proxy, values in columns.items():
            for arch, value in zip(ARCHS, values, strict=True):
                store.put(space, ScoreResult(arch, proxy, float(value), 0.0, 0.1, CONFIG))
        store.put_failure(space, "a99", "params", CONFIG, "RuntimeError: boom\nat line 3", 0.1)
        if run is None:
            return columns
        index = {a: i for i, a in enumerate(ARCHS)}
        events = [
            {
                "arch": a,
                "fitness": 0.0,
                "scores": {p: float(columns[p][index[a]]) for p in ("params", "test_lower")},
            }
            for a in QUERIES
        ]
        store.add_events(run, "search", events)
    return columns
