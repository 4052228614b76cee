"""What the command line prints: progress, tables that keep architectures whole, run outcomes.

Progress goes to stderr: a rich bar (count, scored per second with results read from the store
counted apart, ETA, the current best) on a terminal, and a heartbeat line every
:data:`HEARTBEAT_SECONDS` otherwise (pipes, files, CI logs). Results go to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Task as ProgressTask
from rich.table import Table
from rich.text import Text

from trainfree.errors import TrainfreeError

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
#: Seconds between progress lines on a non-terminal stderr (``$TRAINFREE_HEARTBEAT_SECONDS``).
HEARTBEAT_SECONDS = float(os.environ.get("TRAINFREE_HEARTBEAT_SECONDS", "10"))


class Interrupted(TrainfreeError):
    """The run was interrupted (Ctrl-C, SIGINT); what was finished is kept."""


class ScoresFailed(TrainfreeError):
    """Some requested scores failed; the others were printed."""


def stdout() -> Console:
    """A console for results: no wrapping inside a cell's text, full width when piped."""
    return Console(highlight=False, soft_wrap=True)


@dataclass
class Ticker:
    """Counts finished steps (computed vs read from the store) and shows them."""

    label: str
    total: int | None
    bar: Progress | None = None
    task: Any = None
    heartbeat: bool = False
    done: int = 0
    cached: int = 0
    status: str | Callable[[], str] = ""
    start: float = field(default_factory=time.perf_counter)
    last_beat: float = field(default_factory=time.perf_counter)
    shown: str = ""

    def __call__(
        self, *_: Any, cached: bool = False, status: str | Callable[[], str] | None = None
    ) -> None:
        self.done += 1
        self.cached += bool(cached)
        self.update(status)

    def advance_outcome(self, outcome: Any) -> None:
        """A :data:`~trainfree.run.runner.Progress` callback (an executor outcome)."""
        self(cached=getattr(outcome, "cached", False))

    def update(self, status: str | Callable[[], str] | None = None) -> None:
        """Show the count; ``status`` is a text, or a function giving it that is called only
        when the text is shown (a bar refresh, a heartbeat line)."""
        if status is not None:
            self.status = status
        if self.bar is not None:
            self.bar.update(
                self.task, completed=self.done, rate=self.rate_text(), status=self.status_text()
            )
        elif self.heartbeat and time.perf_counter() - self.last_beat >= HEARTBEAT_SECONDS:
            self.last_beat = time.perf_counter()
            print(self.line(), file=sys.stderr, flush=True)

    def status_text(self) -> str:
        return self.status() if callable(self.status) else self.status

    def rate(self) -> float:
        """Steps computed (not read from the store) per second."""
        elapsed = time.perf_counter() - self.start
        return (self.done - self.cached) / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        if self.total is None or rate <= 0:
            return None
        return (self.total - self.done) / rate

    def rate_text(self) -> str:
        rate = self.rate()
        text = f"{rate:.2f}/s" if rate else "-/s"
        eta = self.eta()
        if eta is not None:
            text += f", ETA {_duration(eta)}"
        return text + (f", {self.cached} from store" if self.cached else "")

    def line(self, live: bool = True) -> str:
        """The progress line; ``live=False`` repeats the last status shown instead of computing
        it (the heartbeat thread must not call into the running search)."""
        total = "" if self.total is None else f"/{self.total}"
        elapsed = _duration(time.perf_counter() - self.start)
        if live:
            self.shown = self.status_text()
        status = f", {self.shown}" if self.shown else ""
        return f"{self.label}: {self.done}{total} after {elapsed} ({self.rate_text()}){status}"

    def beat_while(self, stop: threading.Event) -> None:
        """Print a line whenever :data:`HEARTBEAT_SECONDS` pass without one, until ``stop``
        (so that a long step, e.g. a TE-NAS pruning round, still shows the run is alive)."""
        while not stop.wait(HEARTBEAT_SECONDS / 2):
            if time.perf_counter() - self.last_beat >= HEARTBEAT_SECONDS:
                self.last_beat = time.perf_counter()
                print(self.line(live=False), file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class _FieldColumn(ProgressColumn):
    """One text field of the task (rate, status)."""

    def __init__(self, key: str, style: str) -> None:
        super().__init__()
        self.key, self.style = key, style

    def render(self, task: ProgressTask) -> Text:
        return Text(str(task.fields.get(self.key, "")), style=self.style)


@contextmanager
def progress(total: int | None, label: str, quiet: bool) -> Iterator[Ticker]:
    """A :class:`Ticker` shown as a bar on a terminal, as heartbeat lines elsewhere, or not at all
    when ``quiet``. ``total`` None means unknown (a time budget)."""
    ticker = Ticker(label, total)
    if quiet:
        yield ticker
        return
    if not stderr.is_terminal:
        ticker.heartbeat = True
        stop = threading.Event()
        beats = threading.Thread(target=ticker.beat_while, args=(stop,), daemon=True)
        beats.start()
        try:
            yield ticker
        finally:  # the last count, also when the run is interrupted
            stop.set()
            beats.join()
            if ticker.done:
                print(ticker.line(), file=sys.stderr, flush=True)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _FieldColumn("rate", "progress.data.speed"),
        TimeElapsedColumn(),
        _FieldColumn("status", "bold"),
    )
    with Progress(*columns, console=stderr, transient=False) as bar:
        ticker.bar = bar
        ticker.task = bar.add_task(label, total=total, rate="", status="")
        yield ticker


def print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document))


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[str]], *, wide: str) -> None:
    """A table on a wide terminal; one ``key=value`` line per row when the ``wide`` column
    (e.g. an architecture string) would not fit whole (narrow terminals, pipes, files)."""
    console = stdout()
    width = max((len(row[columns.index(wide)]) for row in rows), default=0)
    others = sum(max(len(c), 8) + 3 for c in columns if c != wide)
    if console.is_terminal and width + others <= console.width:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
        return
    for row in rows:
        print("  ".join(f"{c}={cell}" for c, cell in zip(columns, row, strict=True)))


def report_failures(failures: Sequence[Any], requested: int) -> None:
    """One unwrapped line per failed score and a summary line; raise :class:`ScoresFailed`."""
    if not failures:
        return
    for f in failures:
        print(f"failed: {f.proxy} on {f.task.arch}: {f.error}", file=sys.stderr)
    reasons = sorted({str(f.error).splitlines()[0] for f in failures if f.error})
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    raise ScoresFailed(f"{len(failures)} of {requested} scores failed: {shown}")


def interrupted(done: int, requested: int) -> Interrupted:
    """The error that ends an interrupted run (exit code 130)."""
    return Interrupted(
        f"interrupted: {done} of {requested} scored, rerun the same command to resume"
    )
