"""``trainfree score`` and ``trainfree correlate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from trainfree.cli.options import (
    ArchsFile,
    DataOptions,
    ProxyNames,
    RunOptions,
    Sample,
    expand_groups,
)
from trainfree.cli.output import (
    interrupted,
    print_json,
    print_rows,
    progress,
    report_failures,
)
from trainfree.errors import TrainfreeError
from trainfree.proxies.ensemble import Objective, parse_objective
from trainfree.run.runner import RunReport, component_names, resolve_proxies, score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space

SpaceArg = Annotated[str, typer.Argument(help="Search space, e.g. nb201, nb101, darts, mnasnet.")]
Model = Annotated[
    str | None,
    typer.Option(
        help="Score your own model: package.module:factory (a function returning an nn.Module; "
        "given ARCH strings or --archs, it is called with each).",
        show_default=False,
    ),
]
Bootstrap = Annotated[
    int, typer.Option(help="Bootstrap resamples for the intervals of every metric (0: none).")
]
SelectOn = Annotated[
    int | None,
    typer.Option(
        help="Choose an ensemble of the given proxies on N of the architectures (by Kendall) and "
        "report every proxy and the chosen ensemble on the others only.",
        show_default=False,
    ),
]


def read_archs(path: Path) -> list[str]:
    """Non-empty, non-comment lines of ``path``."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise TrainfreeError(f"cannot read architectures from {path}: {exc.strerror}") from exc
    archs = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not archs:
        raise TrainfreeError(f"{path} holds no architecture")
    return archs


def check_sample(sample: int | None) -> None:
    if sample is not None and sample < 1:
        raise typer.BadParameter(f"must be at least 1, got {sample}", param_hint="--sample")


def check_data(objectives: list, config: ScoreConfig) -> None:
    """Load the dataset once up front, so a missing or unsafe file is one error, not N."""
    from trainfree.data import DataMode, make_batch
    from trainfree.proxies import get_proxy

    real = {DataMode.LABELLED, DataMode.INPUTS}
    if any(get_proxy(name).data_mode in real for name in component_names(objectives)):
        make_batch(
            config.dataset, batch_size=1, seed=0, mode=DataMode.LABELLED, data_dir=config.data_dir
        )


def run_scores(
    space: str, archs: list[str], proxy: str, config: ScoreConfig, run: RunOptions
) -> tuple[list, RunReport]:
    """Score ``archs`` with ``proxy`` under ``run``'s executor and store, with progress."""
    objectives = resolve_proxies(proxy)
    check_data(objectives, config)
    total = len(archs) * len(component_names(objectives))
    executor = run.make_executor()
    db = ResultStore(run.store) if run.store else None
    try:
        with progress(total, "scoring", run.quiet) as tick:
            report = score_many(
                space,
                archs,
                objectives,
                config,
                store=db,
                executor=executor,
                progress=tick.advance_outcome,
            )
    finally:
        executor.close()
        if db:
            db.close()
    return objectives, report


def finish(report: RunReport, document: dict[str, Any] | None, as_json: bool) -> None:
    """Print the JSON document (also after an interrupt), then report an interrupt or failures."""
    if as_json and document is not None:
        print_json(document)
    if report.interrupted:
        raise interrupted(len(report.results), report.requested)
    report_failures(report.failures, report.requested)


@expand_groups
def score(
    space: Annotated[
        str | None, typer.Argument(help="Search space, e.g. nb201 (not with --model).")
    ] = None,
    arch: Annotated[list[str] | None, typer.Argument(help="Architecture strings.")] = None,
    archs: ArchsFile = None,
    sample: Sample = None,
    proxy: ProxyNames = "synflow",
    model: Model = None,
    data: DataOptions = None,  # type: ignore[assignment]
    run: RunOptions = None,  # type: ignore[assignment]
) -> None:
    """Score architectures with proxies (exit 1 if any score failed, 130 if interrupted)."""
    check_sample(sample)
    if model is not None:  # every positional argument is then an architecture string
        arch = [a for a in (space, *(arch or [])) if a is not None]
        space = f"model:{model}"
    elif space is None:
        raise TrainfreeError("give a SPACE (see trainfree spaces) or --model MODULE:FACTORY")
    space_obj = get_space(space)
    given = [bool(arch), archs is not None, sample is not None]
    if model is not None and not any(given):
        arch = space_obj.sample(1)  # a factory without arguments: its one model
    elif sum(given) != 1:
        got = f" (got ARCH {arch[0]!r} too)" if arch and sum(given) > 1 else ""
        raise TrainfreeError(f"give exactly one of: ARCH..., --archs FILE, --sample N{got}")
    chosen = list(arch or []) or (
        read_archs(archs) if archs else space_obj.sample(sample, seed=data.seed)
    )
    config = data.config()
    _, report = run_scores(space, chosen, proxy, config, run)
    by_arch: dict[str, list] = {}
    for result in report.results:
        by_arch.setdefault(result.arch, []).append(result)
    rows = [  # one row per string as written, even where two name one architecture
        {**r.as_json(), "arch": written, **_info(space_obj, r.arch)}
        for written in dict.fromkeys(chosen)
        for r in by_arch.get(space_obj.canonical(written), [])
    ]
    document = {
        "results": rows,
        "failures": [
            {"arch": report.as_given(f.task.arch), "proxy": f.proxy, "error": f.error}
            for f in report.failures
        ],
        "interrupted": report.interrupted,
    }
    if not run.as_json:
        print_rows(
            ("arch", "proxy", "value", "std", "seconds"),
            [
                (r["arch"], r["proxy"], f"{r['value']:.6g}", f"{r['std']:.3g}",
                 f"{r['seconds']:.2f}")
                for r in rows
            ],
            wide="arch",
        )
    finish(report, document, run.as_json)


def _info(space: Any, arch: str) -> dict[str, Any]:
    """Space-specific facts about ``arch`` for the JSON output (e.g. NB101's module hash)."""
    info = getattr(space, "arch_info", None)
    return info(arch) if info is not None else {}


@expand_groups
def correlate(
    space: SpaceArg,
    benchmark: Annotated[Path, typer.Option(help="CSV with an arch column or NASLib zc json.")],
    target: Annotated[str, typer.Option(help="Column, or DATASET/FIELD for NASLib json.")],
    archs: ArchsFile = None,
    sample: Sample = None,
    proxy: ProxyNames = "synflow",
    bootstrap: Bootstrap = 1000,
    select_on: SelectOn = None,
    data: DataOptions = None,  # type: ignore[assignment]
    run: RunOptions = None,  # type: ignore[assignment]
) -> None:
    """Correlate proxy scores with a benchmark's trained accuracy (or another score).

    Spearman, Kendall tau-b, Pearson, top-10% precision and nDCG, each with a bootstrap interval.
    With --select-on N an ensemble chosen by looking at accuracies is honest: it is chosen on N
    architectures and every figure is reported on the disjoint rest.
    """
    from trainfree.evaluate import load_benchmark
    from trainfree.evaluate.standing import Standing
    from trainfree.evaluate.summary import correlation_table

    check_sample(sample)
    space_obj = get_space(space)
    table = load_benchmark(benchmark, space_obj)
    truth = Standing.of(table, target)
    if (archs is None) == (sample is None):
        raise TrainfreeError("give exactly one of: --archs FILE, --sample N")
    chosen = read_archs(archs) if archs else table.sample(sample, seed=data.seed, target=target)
    config = data.config()
    objectives, report = run_scores(space, chosen, proxy, config, run)
    scored = list(report.given)
    targets = np.array([np.nan if (t := truth.value(a)) is None else t for a in scored])
    selection = None
    if select_on is not None:
        selection, scored, targets, objectives = _select(
            report, scored, targets, objectives, select_on, data.seed
        )
    by_name = {o.name: o for o in objectives}

    def values(name: str) -> np.ndarray:
        """Scores over ``scored``; an ensemble ranks those architectures among themselves."""
        objective = by_name[name]
        if not objective.is_ensemble or select_on is None:
            return report.values(name, scored)
        return objective.aggregate({c: report.values(c, scored) for c in objective.components})

    table_rows = correlation_table(objectives, values, targets, n_boot=bootstrap, seed=data.seed)
    results = {
        name: {**stats, "seconds_per_arch": report.seconds_per_arch(o)}
        for (name, stats), o in zip(table_rows.items(), objectives, strict=True)
    }
    document = {
        "space": space_obj.name,
        "target": target,
        "n": len(scored),
        "results": results,
        "selection": selection,
        "interrupted": report.interrupted,
    }
    if not run.as_json:
        if selection is not None:
            print(
                f"chosen on {selection['select_on']} architectures: {selection['name']}; "
                f"every figure below is on the other {len(scored)}"
            )
        _print_correlations(results)
    finish(report, document, run.as_json)


def _select(
    report: RunReport,
    archs: list[str],
    targets: np.ndarray,
    objectives: list[Objective],
    select_on: int,
    seed: int,
) -> tuple[dict[str, Any], list[str], np.ndarray, list[Objective]]:
    """Choose an ensemble of the single proxies on ``select_on`` of the architectures that have
    every score and a target; return it and the held-out architectures, targets and objectives
    (the chosen ensemble added, its ranks taken over the held-out architectures alone)."""
    from trainfree.evaluate.selection import select_ensemble

    singles = [o for o in objectives if not o.is_ensemble]
    if len(singles) < 2:
        raise TrainfreeError("--select-on needs at least two single proxies to choose from")
    scores = {o.name: report.values(o.name, archs) for o in singles}
    keep = np.isfinite(targets) & np.all([np.isfinite(v) for v in scores.values()], axis=0)
    chosen = select_ensemble(
        {name: values[keep] for name, values in scores.items()},
        {o.name: o.higher_is_better for o in singles},
        targets[keep],
        select_on=select_on,
        seed=seed,
        n_boot=0,
    )
    kept = [a for a, k in zip(archs, keep, strict=True) if k]
    held = [kept[i] for i in chosen.held_out_index]
    ensemble = parse_objective(
        chosen.members[0] if len(chosen.members) == 1
        else f"ensemble[{chosen.method}]:{'+'.join(chosen.members)}"
    )  # fmt: skip
    if ensemble not in objectives:
        objectives = [*objectives, ensemble]
    selection = {
        "name": ensemble.name,
        "members": list(chosen.members),
        "method": chosen.method,
        "criterion": chosen.criterion,
        "select_on": select_on,
        "selection_value": chosen.selection_value,
        "held_out": len(held),
    }
    return selection, held, np.array([targets[archs.index(a)] for a in held]), objectives


def _print_correlations(results: dict[str, dict[str, Any]]) -> None:
    metrics = [m for m in ("spearman", "kendall", "pearson", "top10pct_precision", "ndcg")
               if any(m in r for r in results.values())]

    def cell(r: dict[str, Any], m: str) -> str:
        if m not in r:
            return "-"
        ci = r.get(f"{m}_ci")
        return f"{r[m]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")

    ordered = sorted(results.items(), key=lambda item: -item[1]["spearman"])
    print_rows(
        ("proxy", *metrics, "s/arch", "n"),
        [
            (name, *(cell(r, m) for m in metrics), f"{r['seconds_per_arch']:.3f}", str(r["n"]))
            for name, r in ordered
        ],
        wide="proxy",
    )
