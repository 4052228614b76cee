"""The ``trainfree`` command line (the contract of DESIGN.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Task as ProgressTask
from rich.table import Table
from rich.text import Text

from trainfree.errors import TrainfreeError
from trainfree.run.executors import Outcome
from trainfree.run.runner import RunReport, resolve_proxies, score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import SPACES, get_space

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Training-free neural architecture search: score, correlate and search architectures.",
)
stderr = Console(stderr=True)


Dataset = Annotated[str, typer.Option(help="cifar10|cifar100|imagenet16-120|synthetic")]
DataDir = Annotated[
    Path | None, typer.Option(help="Dataset folder (default: $TRAINFREE_DATA).", show_default=False)
]
NumClasses = Annotated[int | None, typer.Option(help="Override the dataset's class count.")]
ImageSize = Annotated[int | None, typer.Option(help="Resize inputs to SxS.")]
BatchSize = Annotated[int | None, typer.Option(help="Batch size (default: each proxy's own).")]
Repeats = Annotated[int | None, typer.Option(help="Repeats per score (default: each proxy's).")]
Seed = Annotated[int, typer.Option(help="Seed for sampling, initialisation and data.")]
Device = Annotated[str, typer.Option(help="cpu or cuda.")]
MemoryFormat = Annotated[
    str,
    typer.Option(
        help="Layout of 4-D inputs: auto (each proxy's fastest), channels_last or contiguous."
    ),
]
Init = Annotated[str | None, typer.Option(help="Initialisation scheme (default: each proxy's).")]
Workers = Annotated[int, typer.Option(help="Worker processes (1 = in-process).")]
ExecutorName = Annotated[str, typer.Option("--executor", help="local or ray.")]
RayAddress = Annotated[
    str | None, typer.Option(help="Join this Ray cluster (with --executor ray).")
]
TimeLimit = Annotated[
    float | None, typer.Option(help="Seconds allowed per (architecture, proxy) with --workers > 1.")
]
StorePath = Annotated[Path | None, typer.Option("--store", help="SQLite store; re-runs skip rows.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ProxyNames = Annotated[str, typer.Option("--proxy", help="Comma-separated proxy names or 'all'.")]
ArchsFile = Annotated[Path | None, typer.Option("--archs", help="File with one arch per line.")]
Sample = Annotated[int | None, typer.Option("--sample", help="Score N sampled architectures.")]


def _config(options: Mapping[str, Any]) -> ScoreConfig:
    """The :class:`ScoreConfig` of a command's options (``locals()``: the option names are the
    config's field names), validated with one-line errors."""
    from trainfree.data import default_data_dir, get_dataset_info
    from trainfree.init import INITS

    values = {f.name: options[f.name] for f in fields(ScoreConfig) if f.name in options}
    get_dataset_info(values.get("dataset", "cifar10"))
    if values.get("init") is not None:
        INITS.get(values["init"])
    data_dir = values.get("data_dir") or default_data_dir()
    if data_dir is not None and not data_dir.is_dir() and values.get("dataset") != "synthetic":
        raise TrainfreeError(f"data folder {data_dir} does not exist")
    return ScoreConfig(**{**values, "data_dir": data_dir})


def _executor(name: str, workers: int, ray_address: str | None, time_limit: float | None):
    from trainfree.run import executors

    return executors.make_executor(
        name, workers=workers, address=ray_address, time_limit=time_limit
    )


def _read_archs(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise TrainfreeError(f"cannot read architectures from {path}: {exc.strerror}") from exc
    archs = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not archs:
        raise TrainfreeError(f"{path} holds no architecture")
    return archs


class _RateColumn(ProgressColumn):
    """Scores per second."""

    def render(self, task: ProgressTask) -> Text:
        return Text(f"{task.speed:.2f}/s" if task.speed else "-/s", style="progress.data.speed")


@contextmanager
def _progress(total: int | None, label: str, quiet: bool) -> Iterator[Callable[..., None] | None]:
    """A rich progress bar on stderr with rate and ETA, or nothing when quiet.

    ``total`` None means "unknown" (e.g. a time budget); the yielded callable advances the bar by
    one and ignores its arguments.
    """
    if quiet or (total is not None and total <= 1):
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda *_: bar.advance(task)


def _run(
    space: str,
    archs: Sequence[str],
    proxy: str,
    config: ScoreConfig,
    store: Path | None,
    executor: Any,
    quiet: bool,
) -> tuple[list, RunReport]:
    proxies = resolve_proxies(proxy)
    from trainfree.run.runner import component_names

    _check_data(proxies, config)
    total = len(archs) * len(component_names(proxies))
    db = ResultStore(store) if store else None
    try:
        with _progress(total, "scoring", quiet) as progress:
            report = score_many(
                space, archs, proxies, config, store=db, executor=executor, progress=progress
            )
    finally:
        if db:
            db.close()
    for failure in report.failures:
        stderr.print(f"[red]failed[/red] {failure.proxy} on {failure.task.arch}: {failure.error}")
    return proxies, report


def _check_data(proxies: list, config: ScoreConfig) -> None:
    """Load the dataset once up front, so a missing or unsafe file is one error, not N."""
    from trainfree.data import make_batch
    from trainfree.data.batch import DataMode
    from trainfree.proxies import get_proxy
    from trainfree.run.runner import component_names

    real = {DataMode.LABELLED, DataMode.INPUTS}
    if any(get_proxy(name).data_mode in real for name in component_names(proxies)):
        make_batch(
            config.dataset, batch_size=1, seed=0, mode=DataMode.LABELLED, data_dir=config.data_dir
        )


@app.command()
def spaces(as_json: AsJson = False) -> None:
    """List the search spaces."""
    rows = [
        {"name": n, "size": get_space(n).size(), "description": get_space(n).describe()}
        for n in SPACES.names()
    ]
    if as_json:
        print(json.dumps({"spaces": rows}))
        return
    table = Table("name", "size", "description")
    for row in rows:
        table.add_row(row["name"], str(row["size"] or "-"), row["description"])
    Console().print(table)


@app.command()
def proxies(as_json: AsJson = False) -> None:
    """List the proxies: name, higher_is_better, data mode, init, options (for name[k=v]), paper."""
    from trainfree.proxies import PROXIES

    rows = [PROXIES.get(n).describe() for n in PROXIES.names()]
    if as_json:
        print(json.dumps({"proxies": rows}))
        return
    table = Table("name", "higher is better", "data", "init", "options", "paper")
    for row in rows:
        options = ", ".join(f"{k}={v}" for k, v in row["options"].items())
        table.add_row(
            row["name"],
            str(row["higher_is_better"]),
            row["data_mode"],
            row["default_init"],
            options,
            row["paper"],
        )
    Console().print(table)


@app.command()
def score(
    space: Annotated[str, typer.Argument(help="Search space name, e.g. nb201.")],
    arch: Annotated[list[str] | None, typer.Argument(help="Architecture strings.")] = None,
    archs: ArchsFile = None,
    sample: Sample = None,
    proxy: ProxyNames = "synflow",
    dataset: Dataset = "cifar10",
    data_dir: DataDir = None,
    num_classes: NumClasses = None,
    image_size: ImageSize = None,
    batch_size: BatchSize = None,
    repeats: Repeats = None,
    seed: Seed = 0,
    device: Device = "cpu",
    memory_format: MemoryFormat = "auto",
    init: Init = None,
    workers: Workers = 1,
    executor: ExecutorName = "local",
    ray_address: RayAddress = None,
    time_limit: TimeLimit = None,
    store: StorePath = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Score architectures with proxies."""
    space_obj = get_space(space)
    given = [bool(arch), archs is not None, sample is not None]
    if sum(given) != 1:
        raise TrainfreeError("give exactly one of: ARCH..., --archs FILE, --sample N")
    chosen = list(arch or []) or (
        _read_archs(archs) if archs else space_obj.sample(sample, seed=seed)
    )
    config = _config(locals())
    pool = _executor(executor, workers, ray_address, time_limit)
    _, report = _run(space, chosen, proxy, config, store, pool, quiet)
    if as_json:
        print(
            json.dumps(
                {
                    "results": [r.as_json() for r in report.results],
                    "failures": [_failure_json(f) for f in report.failures],
                }
            )
        )
    else:
        table = Table("arch", "proxy", "value", "std", "seconds")
        for r in report.results:
            table.add_row(r.arch, r.proxy, f"{r.value:.6g}", f"{r.std:.3g}", f"{r.seconds:.2f}")
        Console().print(table)
    if report.failures:
        raise typer.Exit(1)


def _failure_json(outcome: Outcome) -> dict:
    return {"arch": outcome.task.arch, "proxy": outcome.proxy, "error": outcome.error}


@app.command()
def correlate(
    space: Annotated[str, typer.Argument(help="Search space name, e.g. nb201.")],
    benchmark: Annotated[Path, typer.Option(help="CSV with an arch column or NASLib zc json.")],
    target: Annotated[str, typer.Option(help="Column, or DATASET/FIELD for NASLib json.")],
    archs: ArchsFile = None,
    sample: Sample = None,
    proxy: ProxyNames = "synflow",
    dataset: Dataset = "cifar10",
    data_dir: DataDir = None,
    num_classes: NumClasses = None,
    image_size: ImageSize = None,
    batch_size: BatchSize = None,
    repeats: Repeats = None,
    seed: Seed = 0,
    device: Device = "cpu",
    memory_format: MemoryFormat = "auto",
    init: Init = None,
    workers: Workers = 1,
    executor: ExecutorName = "local",
    ray_address: RayAddress = None,
    time_limit: TimeLimit = None,
    store: StorePath = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Correlate proxy scores with a benchmark's trained accuracy (or another score)."""
    from trainfree.evaluate import correlate as correlation
    from trainfree.evaluate import load_benchmark
    from trainfree.proxies import get_proxy

    space_obj = get_space(space)
    table = load_benchmark(benchmark, space_obj)
    truth_all = table.values(target)
    if (archs is None) == (sample is None):
        raise TrainfreeError("give exactly one of: --archs FILE, --sample N")
    chosen = (
        [space_obj.canonical(a) for a in _read_archs(archs)]
        if archs
        else table.sample(sample, seed=seed, target=target)
    )
    config = _config(locals())
    pool = _executor(executor, workers, ray_address, time_limit)
    proxies, report = _run(space, chosen, proxy, config, store, pool, quiet)
    truth = dict(zip(table.archs, truth_all, strict=True))
    targets = [truth.get(a, float("nan")) for a in chosen]
    results: dict[str, dict] = {}
    for p in proxies:
        name = p if isinstance(p, str) else p.name
        higher = get_proxy(name).higher_is_better if isinstance(p, str) else True
        stats = correlation(report.values(name, chosen), targets, higher_is_better=higher)
        results[name] = {
            "spearman": stats["spearman"],
            "kendall": stats["kendall"],
            "top10pct_precision": stats["top10pct_precision"],
            "seconds_per_arch": report.seconds_per_arch(p),
            "n": stats["n"],
        }
    document = {"space": space, "target": target, "n": len(chosen), "results": results}
    if as_json:
        print(json.dumps(document))
    else:
        out = Table("proxy", "spearman", "kendall", "top-10% precision", "s/arch", "n")
        for name, r in results.items():
            out.add_row(
                name,
                f"{r['spearman']:.3f}",
                f"{r['kendall']:.3f}",
                f"{r['top10pct_precision']:.3f}",
                f"{r['seconds_per_arch']:.3f}",
                str(r["n"]),
            )
        Console().print(out)
    if report.failures:
        raise typer.Exit(1)


def _mount_subcommands() -> None:
    """Mount ``mlp`` and register ``search``, ``demo`` and ``report`` (defined in
    :mod:`trainfree.cli_search`, which uses the option types above)."""
    import trainfree.cli_search  # noqa: F401  (its commands register themselves on ``app``)
    from trainfree.cli_mlp import mlp_app

    app.add_typer(mlp_app, name="mlp")


_mount_subcommands()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user mistakes become one line on stderr and exit code 2."""
    try:
        app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except TrainfreeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            print(f"error: {exc.format_message()}", file=sys.stderr)
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":
    # ``python -m trainfree.cli``: run the imported module's app, on which trainfree.cli_search
    # registered its commands (this ``__main__`` copy is a different module object).
    from trainfree.cli import main as package_main

    sys.exit(package_main())
