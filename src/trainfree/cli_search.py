"""``trainfree search``, ``trainfree demo`` and ``trainfree report``.

The commands register themselves on the main application when this module is imported
(:mod:`trainfree.cli` does so once its shared option types and helpers exist). User mistakes raise
:class:`~trainfree.errors.TrainfreeError`, which the main entry point prints as one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from trainfree.evaluate import BenchmarkTable
from trainfree.cli import (
    AsJson,
    BatchSize,
    DataDir,
    Dataset,
    Device,
    ImageSize,
    Init,
    MemoryFormat,
    NumClasses,
    Quiet,
    Repeats,
    Seed,
    StorePath,
    _config,
    _progress,
    app,
    stderr,
)
from trainfree.errors import TrainfreeError
from trainfree.run.runner import score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.search import SearchResult, get_search, run_search
from trainfree.search.fitness import Fitness
from trainfree.spaces import SearchSpace, get_space
from trainfree.variants import split_names

#: The demo's fitness: a data-free rank ensemble (proxies see synthetic inputs, no download).
#: Measured on 200 NB201 architectures (BENCHMARKS.md): Spearman 0.898 with CIFAR-10 accuracy at
#: 0.15 s per architecture; the best ensemble measured (+params+naswot+jacov, 0.921) costs 5x more.
DEMO_PROXY = "ensemble[azlog]:meco+synflow"
#: The demo's evaluation budget (regularised evolution queries).
DEMO_EVALUATIONS = 300
DEMO_SPACE = "nb201"
DEMO_TARGET = "cifar10_test_200ep"
#: Where the demo looks for the NAS-Bench-201 table, relative to --data-dir / $TRAINFREE_DATA.
DEMO_TABLE = Path("nb201") / "nb201_accuracy.csv"
#: Evaluation budget of rea/random when neither --evaluations nor --seconds is given.
DEFAULT_EVALUATIONS = 100

BLACK_BOX = ("random", "rea")
# Command-line options that a pruning search has no use for (it brings its own objective/init).
_NOT_FOR_PRUNING = {
    "tenas": ("proxy", "evaluations", "seconds", "init", "store"),
    "freedarts": ("proxy", "evaluations", "seconds", "init", "store", "batch_size", "repeats"),
}

SpaceArg = Annotated[str, typer.Argument(help="Search space name, e.g. nb201.")]
Algo = Annotated[str, typer.Option(help="tenas|freedarts|rea|random")]
FitnessProxy = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        help="rea/random fitness: a proxy, an ensemble (ensemble\\[azlog]:synflow+params) or a "
        "comma-separated list (mean-rank ensemble).",
    ),
]
Benchmark = Annotated[
    Path | None, typer.Option(help="CSV with an arch column or NASLib zc json (needs --target).")
]
Target = Annotated[
    str | None, typer.Option(help="Benchmark column, or DATASET/FIELD for NASLib json.")
]
Evaluations = Annotated[int | None, typer.Option(help="rea/random: fitness queries allowed.")]
Seconds = Annotated[float | None, typer.Option(help="rea/random: wall-clock seconds allowed.")]
SearchOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        help="KEY=VALUE keyword of the search function, repeatable, e.g. -o draws=launcher "
        "-o augment=true -o lr_images=3000 (tenas) or -o population_size=20 (rea).",
    ),
]


def _parse_options(items: Sequence[str] | None) -> dict[str, Any]:
    """``["draws=launcher", "lr_images=3000"]`` -> keywords; values become int, float or bool
    where they read as one, otherwise stay strings."""
    options: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise TrainfreeError(f"--option {item!r}: expected KEY=VALUE, e.g. draws=launcher")
        value: Any = text.strip()
        if value.lower() in ("true", "false"):
            value = value.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(value)
                    break
                except ValueError:
                    continue
        options[key.strip()] = value
    return options


def _check_options_of(algo: str, extra: dict[str, Any]) -> None:
    """Refuse ``--option`` keys the search function lacks, and values its annotation rules out
    (text for ``lr_images: int | None``, a number for ``augment: bool``)."""
    import inspect

    params = inspect.signature(get_search(algo)).parameters
    for key, value in extra.items():
        if key not in params or key == "space":
            known = ", ".join(p for p in params if p != "space")
            raise TrainfreeError(f"--option {key}: not a keyword of {algo} (it takes {known})")
        words = set(str(params[key].annotation).replace("|", " ").split())
        allowed = {name for name in ("bool", "int", "float", "str") if name in words}
        kind = type(value).__name__
        if allowed and kind not in allowed and not (kind == "int" and "float" in allowed):
            raise TrainfreeError(f"--option {key}={value}: expected {' or '.join(sorted(allowed))}")


def _merge(options: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``extra`` added; a key that a command-line flag already sets is refused."""
    clash = sorted(set(options) & set(extra))
    if clash:
        raise TrainfreeError(
            f"--option {clash[0]} is set by its own flag or by the command; use that instead"
        )
    return {**options, **extra}


class _TrackedFitness(Fitness):
    """A proxy fitness that reuses and records scores in a store and ticks a progress bar."""

    def __init__(self, space: SearchSpace, proxy: str | Sequence[str], config: ScoreConfig) -> None:
        super().__init__(space, proxy, config)
        self.store: ResultStore | None = None
        self.tick: Callable[..., None] | None = None

    def _evaluate(self, arch: str) -> dict[str, float]:
        if self.store is None:
            return super()._evaluate(arch)
        report = score_many(self.space.name, [arch], self.proxies, self.config, store=self.store)
        for failure in report.failures:
            raise TrainfreeError(f"{failure.proxy} failed on {arch}: {failure.error}")
        return {r.proxy: r.value for r in report.results}

    def __call__(self, arch: str) -> float:
        value = super().__call__(arch)
        if self.tick is not None:
            self.tick()
        return value


@dataclass(frozen=True)
class _Truth:
    """One benchmark column over the whole table: look architectures up and rank them."""

    target: str
    by_arch: dict[str, float]

    @classmethod
    def of(cls, table: BenchmarkTable, target: str) -> _Truth:
        values = table.values(target)
        return cls(target, dict(zip(table.archs, values.tolist(), strict=True)))

    def standing(self, arch: str) -> dict[str, Any]:
        """``target_value`` of ``arch`` (None if absent) and, when present, its rank (1 = best),
        percentile (share of architectures it beats) and the best value in the table."""
        value = self.by_arch.get(arch)
        if value is None or math.isnan(value):
            return {"target_value": None}
        column = np.array([v for v in self.by_arch.values() if not math.isnan(v)])
        return {
            "target_value": value,
            "rank": int((column > value).sum()) + 1,
            "percentile": float(100.0 * (column < value).mean()),
            "best_target_value": float(column.max()),
            "n_archs": len(column),
        }


def _benchmark(path: Path | None, target: str | None, space: SearchSpace) -> BenchmarkTable | None:
    """The table at ``path`` with ``target`` checked, or None; both or neither must be given."""
    from trainfree.evaluate import load_benchmark

    if (path is None) != (target is None):
        raise TrainfreeError("give both --benchmark FILE and --target COLUMN, or neither")
    if path is None or target is None:
        return None
    table = load_benchmark(path, space)
    table.values(target)  # an unknown column fails now, not after the search
    return table


def _run_name(store: ResultStore, base: str) -> str:
    """``base``, or ``base #k`` when the store already holds a search trajectory of that name."""
    taken = {run for run, *_ in store.events("search")}
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base} #{k}"
    return name


def _black_box(
    space: SearchSpace,
    algo: str,
    proxy: str,
    config: ScoreConfig,
    *,
    evaluations: int | None,
    seconds: float | None,
    store: Path | None,
    quiet: bool,
    extra: dict[str, Any] | None = None,
) -> tuple[SearchResult, dict[str, float]]:
    """Run rea/random with a proxy fitness; return the result and the found arch's proxy scores.

    With ``store``, scores are read from / written to it and the trajectory is recorded as a
    ``search`` run for ``trainfree report``.
    """
    if evaluations is None and seconds is None:
        evaluations = DEFAULT_EVALUATIONS
    names: str | list[str] = split_names(proxy) if "," in proxy else proxy
    fitness = _TrackedFitness(space, names, config)  # a bad proxy name fails here
    db = fitness.store = ResultStore(store) if store else None
    try:
        with _progress(evaluations, f"{algo} search", quiet) as tick:
            fitness.tick = tick
            fixed = {
                "fitness": fitness,
                "evaluations": evaluations,
                "seconds": seconds,
                "seed": config.seed,
            }
            result = run_search(algo, space, **_merge(fixed, extra or {}))
        if db is not None:
            trajectory = [
                {"arch": arch, "fitness": value, "scores": fitness.components(arch)}
                for arch, value in result.history
            ]
            run = _run_name(db, f"{algo} {proxy} seed={config.seed}")
            db.add_events(run, "search", trajectory)
    finally:
        if db is not None:
            db.close()
    return result, fitness.components(result.arch)


def _pruning(
    space: SearchSpace, algo: str, config: ScoreConfig, quiet: bool, extra: dict[str, Any]
) -> SearchResult:
    """Run TE-NAS (``--repeats`` is its repeat count) or FreeDARTS/ZEROS on ``space``, with the
    ``--option`` keywords ``extra``."""
    from trainfree.data import get_dataset_info

    common = {"seed": config.seed, "device": config.device}
    if algo == "tenas":
        options: dict[str, Any] = {
            "dataset": config.dataset,
            "data_dir": config.data_dir,
            "batch_size": config.batch_size,
            "num_classes": config.num_classes,
            "image_size": config.image_size,
            **({"repeat": config.repeats} if config.repeats else {}),
        }
    else:
        info = get_dataset_info(config.dataset)
        options = {
            "image_size": config.image_size or info.image_size,
            "num_classes": config.num_classes or info.num_classes,
            "in_channels": info.channels,
        }
    status = nullcontext() if quiet else stderr.status(f"{algo} search on {space.name}")
    with status:
        return run_search(algo, space, **_merge({**options, **common}, extra))


def _check_options(algo: str, given: dict[str, object]) -> None:
    """Refuse options the algorithm cannot use, and a black-box search without a proxy."""
    if algo in BLACK_BOX and given["proxy"] is None:
        raise TrainfreeError(
            f"--algo {algo} needs --proxy NAME (a proxy or an ensemble such as "
            "ensemble[azlog]:synflow+params)"
        )
    unused = [k for k in _NOT_FOR_PRUNING.get(algo, ()) if given[k] is not None]
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise TrainfreeError(f"{flags} does not apply to --algo {algo}")


def _document(
    space: SearchSpace,
    result: SearchResult,
    proxy: str | None,
    scores: dict[str, float],
    truth: _Truth | None,
) -> dict[str, Any]:
    """The ``search`` JSON document (DESIGN.md) with extra keys."""
    return {
        **result.as_json(),
        "space": space.name,
        "proxy": proxy,
        "scores": scores,
        "target": truth.target if truth else None,
        **(truth.standing(result.arch) if truth else {"target_value": None}),
    }


def _print_document(doc: dict[str, Any]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    by = f" with {escape(doc['proxy'])}" if doc["proxy"] else ""
    console.print(f"[bold]{doc['algo']}[/bold] search of {doc['space']}{by} found:")
    console.print(f"  [bold]{doc['arch']}[/bold]")
    fitness = "" if doc["fitness"] is None else f"fitness {doc['fitness']:.6g}, "
    console.print(f"  {fitness}{doc['evaluations']} evaluations, {doc['seconds']:.1f} s")
    if doc["scores"]:
        shown = ", ".join(f"{name} {value:.6g}" for name, value in doc["scores"].items())
        console.print(f"  proxy scores: {shown}")
    if doc["target"] is None:
        return
    if doc["target_value"] is None:
        console.print(f"  {doc['target']}: not in the benchmark table")
        return
    console.print(
        f"  {doc['target']}: [bold]{doc['target_value']:.2f}[/bold] (rank {doc['rank']:,} of "
        f"{doc['n_archs']:,}, better than {doc['percentile']:.1f}% of them; "
        f"best in the table {doc['best_target_value']:.2f})"
    )


@app.command()
def search(
    space: SpaceArg,
    algo: Algo,
    proxy: FitnessProxy = None,
    benchmark: Benchmark = None,
    target: Target = None,
    evaluations: Evaluations = None,
    seconds: Seconds = None,
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
    store: StorePath = None,
    option: SearchOptions = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Search a space: TE-NAS or FreeDARTS pruning, or rea/random search with a proxy fitness.

    rea/random need --proxy and a budget (default 100 evaluations); tenas: --repeats per round.
    Any other keyword of the search function goes in as -o KEY=VALUE.
    """
    algo = algo.lower()
    get_search(algo)  # unknown algorithm: one line listing the known ones
    extra = _parse_options(option)
    _check_options_of(algo, extra)
    given = {
        "proxy": proxy,
        "evaluations": evaluations,
        "seconds": seconds,
        "init": init,
        "store": store,
        "batch_size": batch_size,
        "repeats": repeats,
    }
    _check_options(algo, given)
    space_obj = get_space(space)
    table = _benchmark(benchmark, target, space_obj)
    truth = _Truth.of(table, target) if table is not None and target is not None else None
    config = _config(locals())
    if algo in BLACK_BOX and proxy is not None:
        result, scores = _black_box(
            space_obj,
            algo,
            proxy,
            config,
            evaluations=evaluations,
            seconds=seconds,
            store=store,
            quiet=quiet,
            extra=extra,
        )
    else:
        result, scores = _pruning(space_obj, algo, config, quiet, extra), {}
    doc = _document(space_obj, result, proxy, scores, truth)
    if as_json:
        print(json.dumps(doc))
    else:
        _print_document(doc)


def _demo_table(benchmark: Path | None, data_dir: Path | None) -> tuple[Path | None, str]:
    """The table to compare with, and where it was looked for when there is none."""
    from trainfree.data import default_data_dir

    if benchmark is not None:
        return benchmark, str(benchmark)
    folder = data_dir or default_data_dir()
    if folder is None:
        return None, f"$TRAINFREE_DATA/{DEMO_TABLE.as_posix()} (TRAINFREE_DATA is not set)"
    path = folder / DEMO_TABLE
    return (path if path.is_file() else None), str(path)


@app.command()
def demo(
    benchmark: Annotated[
        Path | None, typer.Option(help=f"NAS-Bench-201 CSV with a {DEMO_TARGET} column.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Folder holding {DEMO_TABLE.as_posix()} (default: $TRAINFREE_DATA).",
            show_default=False,
        ),
    ] = None,
    seed: Seed = 0,
    evaluations: Annotated[int, typer.Option(help="Fitness queries allowed.")] = DEMO_EVALUATIONS,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """The main job: regularised evolution over NAS-Bench-201 with a data-free proxy ensemble."""
    space = get_space(DEMO_SPACE)
    path, looked = _demo_table(benchmark, data_dir)
    table = _benchmark(path, DEMO_TARGET, space) if path is not None else None
    truth = _Truth.of(table, DEMO_TARGET) if table is not None else None
    config = _config({"dataset": "synthetic", "seed": seed})
    if not quiet:
        stderr.print(
            f"Regularised evolution over NAS-Bench-201: {evaluations} evaluations of "
            f"{escape(DEMO_PROXY)} on synthetic inputs (no data needed).",
            highlight=False,
        )
    result, scores = _black_box(
        space,
        "rea",
        DEMO_PROXY,
        config,
        evaluations=evaluations,
        seconds=None,
        store=None,
        quiet=quiet,
    )
    doc = _document(space, result, DEMO_PROXY, scores, truth)
    doc["benchmark"] = str(path) if path is not None else None
    note = None
    if truth is None:
        note = (
            f"No benchmark table found at {looked}, so the trained accuracy of this architecture "
            f"is not shown. Pass --benchmark FILE (the NAS-Bench-201 CSV with a {DEMO_TARGET} "
            f"column), or --data-dir DIR / TRAINFREE_DATA=DIR with {DEMO_TABLE.as_posix()} in it."
        )
        doc["note"] = note
    if as_json:
        print(json.dumps(doc))
        return
    _print_document(doc)
    if note:
        Console(highlight=False, soft_wrap=True).print(escape(note))


@app.command()
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
    from trainfree.report import store_space, write_report

    name = store_space(store, space)
    table = _benchmark(benchmark, target, get_space(name))
    folder = out or store.with_name(f"{store.stem}-report")
    index = write_report(store, folder, benchmark=table, target=target, space=name)
    print(index)
