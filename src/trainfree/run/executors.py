"""Executors: where scoring tasks run (in-process here; process pool and Ray alongside)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from trainfree.errors import TrainfreeError
from trainfree.run.scoring import ScoreConfig, ScoreResult, score_arch
from trainfree.spaces import get_space


@dataclass(frozen=True)
class Task:
    """One (architecture, proxy) score to compute; picklable for worker processes."""

    space: str
    arch: str
    proxy: str
    config: ScoreConfig


@dataclass(frozen=True)
class Outcome:
    """A task's result, or the one-line reason it failed."""

    task: Task
    result: ScoreResult | None
    error: str | None
    seconds: float


def run_task(task: Task) -> Outcome:
    """Compute one task, turning any exception into a failure record."""
    start = time.perf_counter()
    try:
        result = score_arch(get_space(task.space), task.arch, task.proxy, task.config)
    except Exception as exc:  # one bad network must not stop a run  # noqa: BLE001
        message = str(exc) if isinstance(exc, TrainfreeError) else f"{type(exc).__name__}: {exc}"
        return Outcome(task, None, message.splitlines()[0] if message else type(exc).__name__,
                       time.perf_counter() - start)  # fmt: skip
    return Outcome(task, result, None, time.perf_counter() - start)


class LocalExecutor:
    """Runs tasks one after another in this process."""

    name = "local"

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        for task in tasks:
            yield run_task(task)


def make_executor(
    name: str = "local", *, workers: int = 1, address: str | None = None,
    time_limit: float | None = None,
) -> LocalExecutor:  # fmt: skip
    """The executor named on the command line (``local`` with ``workers``, or ``ray``)."""
    if name != "local" or workers != 1:
        raise TrainfreeError(f"executor {name!r} with {workers} workers is not available yet")
    return LocalExecutor()
