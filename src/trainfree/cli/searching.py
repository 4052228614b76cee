"""``trainfree search`` and ``trainfree demo``."""

from __future__ import annotations

import ast
import inspect
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from trainfree.cli.options import (
    AsJson,
    Benchmark,
    DataOptions,
    Quiet,
    Seed,
    StorePath,
    Target,
    expand_groups,
)
from trainfree.cli.output import Interrupted, print_json, progress, stdout
from trainfree.errors import TrainfreeError
from trainfree.evaluate.standing import Standing
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.search import get_search, harness_options, run_search
from trainfree.search.checkpoint import StoreCheckpoint
from trainfree.search.constraints import Limits
from trainfree.search.evolution import REA
from trainfree.search.fitness import Fitness
from trainfree.search.leader import Leader
from trainfree.spaces import SearchSpace, get_space
from trainfree.spaces.nb201 import NB201Space
from trainfree.variants import split_names

#: The demo's fitness: a data-free rank ensemble (proxies see synthetic inputs, no download).
#: Measured on 200 NB201 architectures (BENCHMARKS.md): Spearman 0.898 with CIFAR-10 accuracy at
#: 0.15 s per architecture. Revisited with issue 21's measurements: AZ-NAS + SynFlow (data-free
#: too) ranks better (Kendall 0.783 on 207 architectures) but costs about 0.67 s per architecture,
#: which would take the demo's 300 evaluations well past a minute on 2 cores.
DEMO_PROXY = "ensemble[azlog]:meco+synflow"
DEMO_EVALUATIONS = 300
DEMO_SPACE = NB201Space.name
DEMO_DATASET = "cifar10"
#: The column the demo's result is judged by (the space's table for the dataset).
DEMO_PATH, DEMO_TARGET = get_space(DEMO_SPACE).benchmarks[DEMO_DATASET]
#: Evaluation budget of fitness-driven searches when neither --evaluations nor --seconds is given.
DEFAULT_EVALUATIONS = 100

SpaceArg = Annotated[str, typer.Argument(help="Search space, e.g. nb201, darts, mnasnet.")]
Algo = Annotated[str, typer.Option(help="Search algorithm (trainfree searches lists them).")]
FitnessProxy = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        help="Fitness of rea/random: a proxy, an ensemble (ensemble\\[azlog]:synflow+params) or a "
        "comma-separated list (mean-rank ensemble).",
    ),
]
Evaluations = Annotated[int | None, typer.Option(help="rea/random: fitness queries allowed.")]
Seconds = Annotated[float | None, typer.Option(help="rea/random: wall-clock seconds allowed.")]
NoBenchmark = Annotated[
    bool,
    typer.Option(
        "--no-benchmark", help="Do not look the result up in $TRAINFREE_DATA's table.", metavar=""
    ),
]
WithinBenchmark = Annotated[
    bool,
    typer.Option(
        "--within-benchmark",
        help="rea/random: sample, mutate into and score only architectures of the benchmark "
        "table (--benchmark, or the space's table under $TRAINFREE_DATA) that have a value, so "
        "the result always has one (mutants outside it go to the table's nearest).",
        metavar="",
    ),
]
SearchOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        help="KEY=VALUE keyword of the search function, repeatable, e.g. -o population_size=50 "
        "(trainfree searches --json lists each search's keywords).",
    ),
]


def _limit(flag: str) -> Any:
    what = flag.split("-")[-1]
    unit = {"macs": "multiply-accumulates", "flops": "FLOPs (2 per MAC)", "params": "parameters"}
    side = "at most" if flag.startswith("max") else "at least"
    return Annotated[
        str | None,
        typer.Option(
            f"--{flag}",
            help=f"rea/random: only architectures with {side} this many {unit[what]} "
            "(suffixes k, M, G). Mobile-network papers' '450M FLOPs' is --max-macs 450M.",
            show_default=False,
        ),
    ]


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``["population_size=50", 'supernet={"C": 8}']`` -> keywords: Python literals (numbers,
    booleans as true/false too, dicts, lists) where the text reads as one, else strings."""
    options: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise TrainfreeError(f"--option {item!r}: expected KEY=VALUE, e.g. population_size=50")
        text = text.strip()
        if text.lower() in ("true", "false"):
            options[key.strip()] = text.lower() == "true"
            continue
        try:
            options[key.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            options[key.strip()] = text
    return options


def default_benchmark(
    space: SearchSpace, dataset: str, data_dir: Path | None
) -> tuple[Path, str] | None:
    """The space's table for ``dataset`` under ``data_dir`` / ``$TRAINFREE_DATA``, if present."""
    from trainfree.data import default_data_dir

    entry = space.benchmarks.get(dataset, space.benchmarks.get("*"))
    folder = data_dir or default_data_dir()
    if entry is None or folder is None or not (folder / entry[0]).is_file():
        return None
    return folder / entry[0], entry[1]


def load_standing(
    space: SearchSpace, benchmark: Path | None, target: str | None
) -> Standing | None:
    from trainfree.evaluate import load_benchmark

    if (benchmark is None) != (target is None):
        raise TrainfreeError("give both --benchmark FILE and --target COLUMN, or neither")
    if benchmark is None or target is None:
        return None
    return Standing.of(load_benchmark(benchmark, space), target)


def _store_name(store: ResultStore, base: str) -> str:
    """``base``, or ``base #k`` when the store already holds a search trajectory of that name."""
    taken = {run for run, *_ in store.events("search")}
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base} #{k}"
    return name


def run_fitness_search(
    space: SearchSpace,
    algo: str,
    proxy: str,
    config: ScoreConfig,
    *,
    evaluations: int | None,
    seconds: float | None,
    limits: Limits,
    store: Path | None,
    quiet: bool,
    truth: Standing | None,
    extra: dict[str, Any],
    within: list[str] | None = None,
) -> tuple[Any, Fitness]:
    """Run a fitness-driven search with a progress display (the leader and, with a table, its
    value); with ``store``, scores are reused and kept and the trajectory is recorded; with
    ``within``, only those architectures are visited."""
    if evaluations is None and seconds is None:
        evaluations = DEFAULT_EVALUATIONS
    names: str | list[str] = split_names(proxy) if "," in proxy else proxy
    db = ResultStore(store) if store else None
    fitness = Fitness(space, names, config, store=db)  # a bad proxy name fails here
    leader = Leader(fitness, truth)
    try:
        with progress(evaluations, f"{algo} search", quiet) as tick:
            fitness.on_evaluate = lambda arch: tick(status=leader.status)
            options = harness_options(
                get_search(algo),
                config,
                given={},
                fixed={"fitness": fitness, "evaluations": evaluations, "seconds": seconds,
                       "limits": limits, "within": within},
                extra=extra,
            )
            result = run_search(algo, space, **options)
        if db is not None:
            run = _store_name(db, f"{algo} {proxy} seed={config.seed}")
            db.add_events(
                run,
                "search",
                [
                    {"arch": arch, "fitness": value, "scores": fitness.components(arch),
                     "objective": proxy, "space": space.name}
                    for arch, value in result.history
                ],
            )  # fmt: skip
    finally:
        if db is not None:
            db.close()
    return result, fitness


@expand_groups
def search(
    space: SpaceArg,
    algo: Algo,
    proxy: FitnessProxy = None,
    benchmark: Benchmark = None,
    target: Target = None,
    no_benchmark: NoBenchmark = False,
    within_benchmark: WithinBenchmark = False,
    evaluations: Evaluations = None,
    seconds: Seconds = None,
    max_macs: _limit("max-macs") = None,
    min_macs: _limit("min-macs") = None,
    max_flops: _limit("max-flops") = None,
    min_flops: _limit("min-flops") = None,
    max_params: _limit("max-params") = None,
    min_params: _limit("min-params") = None,
    store: StorePath = None,
    option: SearchOptions = None,
    data: DataOptions = None,  # type: ignore[assignment]
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Search a space: rea/random with a proxy fitness (optionally within MACs/FLOPs/params
    limits), or TE-NAS / FreeDARTS pruning of a supernet.

    With a benchmark table (--benchmark/--target, or $TRAINFREE_DATA's table for the space and
    dataset) the found architecture's trained accuracy and rank are shown.
    """
    algorithm = get_search(algo)
    extra = parse_options(option)
    space_obj = get_space(space)
    limits = Limits.parse(
        max_macs=max_macs, min_macs=min_macs, max_flops=max_flops, min_flops=min_flops,
        max_params=max_params, min_params=min_params,
    )
    fitness_only = {"--proxy": proxy, "--evaluations": evaluations, "--seconds": seconds,
                    "--max/--min limits": limits or None,
                    "--within-benchmark": within_benchmark or None}  # fmt: skip
    if algorithm.needs == "fitness" and proxy is None:
        raise TrainfreeError(
            f"--algo {algorithm.name} needs --proxy NAME (a proxy or an ensemble such as "
            "ensemble[azlog]:synflow+params)"
        )
    if algorithm.needs != "fitness":
        unused = [flag for flag, value in fitness_only.items() if value is not None]
        if unused:
            raise TrainfreeError(f"{', '.join(unused)} does not apply to --algo {algorithm.name}")
    truth, note = _truth(space_obj, data, benchmark, target, no_benchmark)
    within = table_archs(truth) if within_benchmark else None
    config = data.config()
    try:
        if algorithm.needs == "fitness":
            result, fitness = run_fitness_search(
                space_obj, algorithm.name, proxy, config, evaluations=evaluations,
                seconds=seconds, limits=limits, store=store, quiet=quiet, truth=truth,
                extra=extra, within=within,
            )  # fmt: skip
            scores = fitness.components(result.arch)
        else:
            result = _pruning(space_obj, algorithm.name, data, config, store, quiet, extra)
            scores = {}
    except KeyboardInterrupt:
        hint = " (scores so far are in the store)" if store else ""
        raise Interrupted(f"interrupted: rerun the same command to resume{hint}") from None
    doc = document(space_obj, result, proxy, scores, truth, limits)
    if note:
        doc["note"] = note
    if as_json:
        print_json(doc)
    else:
        print_document(doc)


def _truth(
    space: SearchSpace,
    data: DataOptions,
    benchmark: Path | None,
    target: str | None,
    no_benchmark: bool,
) -> tuple[Standing | None, str | None]:
    """The table to judge the result by: the one given, else the space's own under
    ``$TRAINFREE_DATA`` (said in a note), else none."""
    if benchmark is not None or target is not None or no_benchmark:
        return load_standing(space, benchmark, target), None
    found = default_benchmark(space, data.dataset, data.data_dir)
    if found is None:
        return None, None
    path, column = found
    return (
        load_standing(space, path, column),
        f"compared with {column} of {path} (found under the data folder; --no-benchmark skips)",
    )


def table_archs(truth: Standing | None) -> list[str]:
    """The architectures of the benchmark table that have a value (``--within-benchmark``)."""
    if truth is None:
        raise TrainfreeError(
            "--within-benchmark needs a benchmark table: --benchmark FILE --target COLUMN, or "
            "the space's table under $TRAINFREE_DATA (not with --no-benchmark)"
        )
    return [arch for arch, value in truth.by_arch.items() if not math.isnan(value)]


def _pruning(
    space: SearchSpace,
    algo: str,
    data: DataOptions,
    config: ScoreConfig,
    store: Path | None,
    quiet: bool,
    extra: dict[str, Any],
) -> Any:
    """Run a supernet search; the harness settings the user gave go in as its keywords. With
    ``store``, the state after every round is kept there and a rerun resumes from it."""
    algorithm = get_search(algo)
    options = harness_options(algorithm, config, given=data.given(), fixed={}, extra=extra)
    takes = inspect.signature(algorithm.fn).parameters
    db = ResultStore(store) if store is not None else None
    try:
        with progress(None, f"{algo} search on {space.name}", quiet) as tick:
            harness: dict[str, Any] = {}
            if "progress" in takes:
                harness["progress"] = lambda status: tick(status=status)
            if db is not None:
                if "checkpoint" not in takes:
                    raise TrainfreeError(f"--store does not apply to --algo {algo}")
                run = StoreCheckpoint.run_name(algo, space.name, options)
                harness["checkpoint"] = StoreCheckpoint(db, run)
            return run_search(algo, space, **options, **harness)
    finally:
        if db is not None:
            db.close()


def document(
    space: SearchSpace,
    result: Any,
    proxy: str | None,
    scores: dict[str, float],
    truth: Standing | None,
    limits: Limits,
) -> dict[str, Any]:
    """The ``search`` JSON document: the result, the found architecture's size and, with a
    table, its value and rank (within the same limits when there are limits)."""
    counts = space.complexity(result.arch)
    within = (lambda arch: limits.admits(space, arch)) if limits else None
    standing = truth.standing(result.arch, within=within) if truth else {"target_value": None}
    return {
        **result.as_json(),
        "space": space.name,
        "proxy": proxy,
        "scores": scores,
        "params": counts["params"],
        "flops": counts["flops"],
        "macs": counts["macs"],
        "limits": limits.as_json(),
        "target": truth.target if truth else None,
        **standing,
    }


def print_document(doc: dict[str, Any]) -> None:
    console = stdout()
    by = f" with {escape(doc['proxy'])}" if doc["proxy"] else ""
    console.print(f"[bold]{doc['algo']}[/bold] search of {doc['space']}{by} found:")
    console.print(f"  [bold]{escape(doc['arch'])}[/bold]")
    console.print(
        f"  {doc['params'] / 1e6:.3f}M parameters, {doc['macs'] / 1e6:.1f}M MACs; "
        f"{doc['evaluations']} evaluations in {doc['seconds']:.1f} s"
    )
    if doc["scores"]:
        shown = ", ".join(f"{name} {value:.6g}" for name, value in doc["scores"].items())
        console.print(f"  proxy scores: {escape(shown)}")
    if doc.get("note"):
        console.print(f"  {escape(doc['note'])}")
    if doc["target"] is None:
        return
    if doc["target_value"] is None:
        console.print(f"  {doc['target']}: not in the benchmark table")
        return
    among = " within the limits" if doc["limits"] else ""
    console.print(
        f"  {doc['target']}: [bold]{doc['target_value']:.2f}[/bold] (rank {doc['rank']:,} of "
        f"{doc['n_archs']:,}{among}, better than {doc['percentile']:.1f}% of them; "
        f"best in the table {doc['best_target_value']:.2f})"
    )


def demo(
    benchmark: Annotated[
        Path | None, typer.Option(help="NAS-Bench-201 CSV (default: $TRAINFREE_DATA's).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder holding nb201/nb201_accuracy.csv (default: $TRAINFREE_DATA).",
                     show_default=False),
    ] = None,
    seed: Seed = 0,
    evaluations: Annotated[int, typer.Option(help="Fitness queries allowed.")] = DEMO_EVALUATIONS,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """The main job: regularised evolution over NAS-Bench-201 with a data-free proxy ensemble."""
    space = get_space(DEMO_SPACE)
    found = default_benchmark(space, DEMO_DATASET, data_dir)
    table = benchmark or (found[0] if found else None)
    truth = load_standing(space, table, DEMO_TARGET) if table is not None else None
    config = DataOptions(dataset="synthetic", seed=seed).config()
    if not quiet:
        print(
            f"Regularised evolution over NAS-Bench-201: {evaluations} evaluations of "
            f"{DEMO_PROXY} on synthetic inputs (no data needed).",
            file=sys.stderr,
        )
    result, fitness = run_fitness_search(
        space, REA, DEMO_PROXY, config, evaluations=evaluations, seconds=None,
        limits=Limits(), store=None, quiet=quiet, truth=truth, extra={},
    )  # fmt: skip
    doc = document(space, result, DEMO_PROXY, fitness.components(result.arch), truth, Limits())
    doc["why"] = Leader(fitness, None).percentiles(result.arch)
    doc["benchmark"] = str(table) if table is not None else None
    if truth is None:
        from trainfree.data import default_data_dir

        folder = data_dir or default_data_dir()
        looked = f"{folder / DEMO_PATH}" if folder else f"$TRAINFREE_DATA/{DEMO_PATH} (not set)"
        doc["note"] = (
            f"No benchmark table found at {looked}, so the trained accuracy of this "
            "architecture is not shown; --benchmark FILE or --data-dir DIR gives one."
        )
    if as_json:
        print_json(doc)
        return
    print_document(doc)
    why = ", ".join(f"{name} beats {p:.0f}%" for name, p in doc["why"].items())
    stdout().print(
        f"  why: among the {fitness.evaluations} architectures scored, {escape(why)}",
        markup=True,
    )

