"""Pruning searches resume from their last finished round (``search/checkpoint.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from trainfree.run.store import ResultStore
from trainfree.search import run_search
from trainfree.search.checkpoint import StoreCheckpoint

TINY = {
    "tenas": {"dataset": "synthetic", "image_size": 8, "batch_size": 4, "repeats": 1,
              "lr_samples": 20, "lr_batches": 1, "ntk_supernet": {"depth": 1}},
    "freedarts": {"image_size": 8, "supernet": {"C": 4, "N": 1}},
}  # fmt: skip


class Memory:
    """An in-memory checkpoint."""

    def __init__(self) -> None:
        self.states: list[dict[str, Any]] = []

    def last(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    def save(self, state: dict[str, Any]) -> None:
        self.states.append(state)


class Stop(Exception):
    pass


@pytest.mark.parametrize("algo", ["tenas", "freedarts"])
def test_interrupted_search_resumes_to_the_same_result(nb201, algo: str) -> None:
    whole = run_search(algo, nb201, seed=1, **TINY[algo])
    memory = Memory()

    def stop_after_two(status: str) -> None:
        if len(memory.states) == 2:
            raise Stop(status)

    with pytest.raises(Stop, match="round 2"):
        run_search(algo, nb201, seed=1, progress=stop_after_two, checkpoint=memory, **TINY[algo])
    assert [s["round"] for s in memory.states] == [1, 2]
    resumed = run_search(algo, nb201, seed=1, checkpoint=memory, **TINY[algo])
    assert resumed.arch == whole.arch and resumed.history == whole.history
    assert resumed.evaluations == whole.evaluations
    again = run_search(algo, nb201, seed=1, checkpoint=memory, **TINY[algo])  # nothing left
    assert again.arch == whole.arch and again.evaluations == whole.evaluations


def test_store_checkpoint_keys_runs_by_their_options(tmp_path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        one = StoreCheckpoint(store, StoreCheckpoint.run_name("tenas", "nb201", {"seed": 0}))
        other = StoreCheckpoint(store, StoreCheckpoint.run_name("tenas", "nb201", {"seed": 1}))
        one.save({"round": 1, "masks": []})
        one.save({"round": 2, "masks": []})
        assert one.last()["round"] == 2 and other.last() is None
