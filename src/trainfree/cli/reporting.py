"""``trainfree report``: an HTML page of a result store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainfree.cli.options import Benchmark, Target
from trainfree.errors import TrainfreeError


def report(
    store: Annotated[Path, typer.Argument(help="SQLite store written with --store.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: STORE's name + '-report', beside it)."),
    ] = None,
    benchmark: Benchmark = None,
    target: Target = None,
    space: Annotated[
        str | None, typer.Option(help="The space to report (default: the store's only one).")
    ] = None,
) -> None:
    """Write an HTML report (plots, correlations, search trajectories) of a result store."""
    from trainfree.evaluate import load_benchmark
    from trainfree.report import store_space, write_report
    from trainfree.spaces import get_space

    if (benchmark is None) != (target is None):
        raise TrainfreeError("give both --benchmark FILE and --target COLUMN, or neither")
    name = store_space(store, space)
    table = load_benchmark(benchmark, get_space(name)) if benchmark is not None else None
    if table is not None and target is not None:
        table.values(target)  # an unknown column fails now, listing the known ones
    folder = out or store.with_name(f"{store.stem}-report")
    print(write_report(store, folder, benchmark=table, target=target, space=name))
