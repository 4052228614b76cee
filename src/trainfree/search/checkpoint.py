"""Round checkpoints of pruning searches, so an interrupted search resumes where it stopped.

A pruning search (TE-NAS, FreeDARTS) is a sequence of rounds, each pruning operations from the
supernet's masks. After every round it hands :meth:`Checkpoint.save` a JSON-friendly state
(masks, random-number state, counters, history); started again with the same checkpoint, it
restores the last state and goes on from the next round, giving the same result as an
uninterrupted run. :class:`StoreCheckpoint` keeps the states in a result store, keyed by the
search's name, space and options.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import torch

from trainfree.run.store import ResultStore

KIND = "round"


class Checkpoint(Protocol):
    """Where a search keeps its round states (each has an integer ``"round"``)."""

    def last(self) -> dict[str, Any] | None:
        """The state saved after the last finished round, or ``None``."""

    def save(self, state: dict[str, Any]) -> None:
        """Keep the state reached after a round."""


class StoreCheckpoint:
    """Round states of one search run kept as events of a :class:`ResultStore`."""

    def __init__(self, store: ResultStore, run: str) -> None:
        self.store, self.run = store, run

    @staticmethod
    def run_name(algo: str, space: str, options: Mapping[str, Any]) -> str:
        """The key of a run: the same search, space and options resume the same run."""
        shown = json.dumps(dict(options), sort_keys=True, default=str)
        return f"{algo} {space} {shown}"

    def last(self) -> dict[str, Any] | None:
        states = [payload for run, _, _, payload in self.store.events(KIND) if run == self.run]
        return max(states, key=lambda state: state["round"]) if states else None

    def save(self, state: dict[str, Any]) -> None:
        self.store.add_events(self.run, KIND, [state])


def masks_state(masks: Sequence[torch.Tensor]) -> list[list[list[bool]]]:
    return [m.tolist() for m in masks]


def restore_masks(masks: Sequence[torch.Tensor], state: Sequence[Any]) -> None:
    """Copy saved masks into the live ``masks`` (in place)."""
    with torch.no_grad():
        for live, saved in zip(masks, state, strict=True):
            live.copy_(torch.tensor(saved, dtype=torch.bool))
