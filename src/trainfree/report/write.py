"""``write_report``: one self-contained HTML page about the scores and searches in a store."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from trainfree.errors import TrainfreeError
from trainfree.evaluate import BenchmarkTable
from trainfree.report import plots
from trainfree.report.html import Cell, code, figure, number, page, paragraph, table
from trainfree.report.reading import (
    SETTING,
    SETTING_NAMES,
    RunLog,
    StoreView,
    open_store,
    read_runs,
    read_view,
    setting_text,
    store_space,
)
from trainfree.report.stats import agreement, correlations
from trainfree.report.trajectory import RECORDED, Trajectory, replay

#: Failure groups (proxy, error) listed; the rest are counted.
MAX_FAILURE_GROUPS = 50
#: Values of points drawn apart that a scatter's caption lists.
MAX_APART_LISTED = 5
#: Size measures a correlation table should be read beside.
SIZE_PROXIES = ("params", "flops")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _summary(view: StoreView, store_path: str | Path, runs: list[Trajectory]) -> str:
    pairs = int(view.scores.notna().sum().sum())
    averaged = f", {pairs:,} after averaging seeds" if pairs < len(view.rows) else ""
    text = (
        f"Store {store_path}: {_plural(len(view.scores), 'architecture')} scored by "
        f"{_plural(len(view.scores.columns), 'proxy setting')} ({_plural(len(view.rows), 'score')}"
        f"{averaged}), {_plural(len(view.failures), 'failure')}. Written by trainfree "
        f"{', '.join(view.versions)}."
    )
    parts = [paragraph(text)]
    parts += [paragraph(f"{run.run}: {_counts(run)}.") for run in runs]
    return "".join(parts)


def _counts(run: Trajectory) -> str:
    """``120 evaluations, 96 distinct architectures (24 repeats, answered from the cache)``."""
    repeats = run.evaluations - run.distinct
    text = f"{_plural(run.evaluations, 'evaluation')}, {run.distinct:,} distinct architectures"
    if repeats:
        text += (
            f" ({_plural(repeats, 'repeat')} of architectures already queried, "
            "answered from the cache)"
        )
    return text


def _describe_setting(view: StoreView, label: str) -> str:
    """``meco on synthetic data, batch 1, init default, seed 0, 1 repeat`` (image size, classes
    and options only when they are not the dataset's / the proxy's own)."""
    row = view.settings.loc[label]
    parts = [f"{label} on {row['dataset']} data", f"batch {row['batch_size']}"]
    parts.append(f"init {row['init']}")
    for field in ("image_size", "num_classes", "params"):
        shown = setting_text(field, row[field])
        if shown not in ("dataset's", "defaults"):
            parts.append(f"{SETTING_NAMES[field]} {shown}")
    seeds = row["seeds"]
    parts.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")
    parts.append(_plural(int(row["repeats"]), "repeat"))
    return ", ".join(parts)


def _provenance(view: StoreView, run: Trajectory) -> str:
    """Which stored scores (settings) the run used and how long they took per architecture,
    found by matching the run's recorded component values to the store's rows."""
    if not run.components:
        return "Its component scores were not recorded, so their settings and cost are unknown."
    values = run.archs[list(run.components)].stack().rename("value")
    recorded = values.rename_axis(["arch", "proxy"]).reset_index()
    matched = recorded.merge(view.rows, on=["arch", "proxy", "value"])
    if matched.empty:
        return (
            "Its scores are not among the store's score rows, so their settings and cost are "
            "unknown."
        )
    labels = sorted(set(matched["label"]))
    seconds = matched.groupby(["arch", "proxy"])["seconds"].mean().groupby("arch").sum()
    unmatched = run.distinct - len(seconds)
    text = (
        f"Scoring took {seconds.median():.3g} s per architecture (median; "
        f"{seconds.sum():.3g} s for {_plural(len(seconds), 'architecture')}"
        + (f"; {unmatched:,} not found in the score rows" if unmatched else "")
        + "). Scores used: "
        + "; ".join(_describe_setting(view, label) for label in labels)
        + "."
    )
    return text


def _leader_table(run: Trajectory, target: str | None) -> str:
    changes = run.leader_changes
    headers = ["query", "architecture"]
    for name in run.components:
        headers += [name, f"{name} %"]
    headers.append("mean %")
    if target is not None:
        headers.append(target)
    rows = []
    for _, row in changes.iterrows():
        cells: list[Cell] = [number(row["step"], "{:.0f}"), code(row["leader"])]
        for name in run.components:
            cells += [number(row[name], "{:.4g}"), number(row[f"{name} %"], "{:.0f}")]
        cells.append(number(row["percentile"], "{:.0f}"))
        if target is not None:
            cells.append(number(row["target"], "{:.2f}"))
        rows.append(cells)
    return (
        f"<details><summary>Where the pick changed ({_plural(len(changes), 'time')})</summary>"
        + table(headers, rows)
        + "</details>"
    )


def _search_section(
    view: StoreView, runs: list[Trajectory], target: str | None, best: float | None
) -> str:
    chart = plots.trajectory_chart(runs, target, best)
    pick = (
        "After each query, the search's pick is the best architecture queried so far under its "
        "objective (recomputed over all of them, as the search does); dots mark where it changed. "
    )
    if target is not None:
        caption = (
            pick + f"Solid: the pick's {target}. Dashed: the best {target} among the queried "
            "architectures (what a perfect proxy would have picked from them)."
            + (f" Dotted: the best in the table ({best:.2f})." if best is not None else "")
        )
    else:
        caption = (
            pick + "Plotted: the pick's mean percentile (the share of the run's architectures it "
            "beats, per component of the objective, averaged). Give --benchmark and --target to "
            "plot its trained accuracy."
        )
    headers = ["run", "evaluations", "distinct", "repeats", "pick changes", "pick"]
    if target is not None:
        headers += [f"pick's {target}", f"best queried {target}"]
    rows = []
    for run in runs:
        last = run.steps.iloc[-1]
        cells = [
            Cell(run.run),
            number(run.evaluations, "{:,}"),
            number(run.distinct, "{:,}"),
            number(run.evaluations - run.distinct, "{:,}"),
            number(int(run.steps["changed"].sum()), "{:,}"),
            code(last["leader"]),
        ]
        if target is not None:
            cells += [number(last[c], "{:.2f}") for c in ("leader_target", "best_target")]
        rows.append(cells)
    parts = ["<h2>Search</h2>", figure(chart, "search trajectory", caption), table(headers, rows)]
    for run in runs:
        parts.append(f"<h3>{html.escape(run.run)}</h3>")
        ranked = f"Picks ranked by {run.chosen_by}."
        if run.chosen_by == RECORDED:
            ranked = (
                "Its objective could not be rebuilt from the record, so the pick follows the "
                "fitness recorded at query time (exact for a single proxy; a rank ensemble's is "
                "relative to the architectures seen by then)."
            )
        parts.append(paragraph(f"{_counts(run)}. {ranked} {_provenance(view, run)}"))
        parts.append(_leader_table(run, target))
    return "".join(parts)


def _listed(values: np.ndarray) -> str:
    """``-1490 (6×), -12.5``: the distinct values, the first :data:`MAX_APART_LISTED`."""
    distinct, counts = np.unique(values, return_counts=True)
    listed = ", ".join(
        f"{v:.4g}" + (f" ({c}×)" if c > 1 else "")
        for v, c in zip(distinct[:MAX_APART_LISTED], counts, strict=False)
    )
    return listed + (", …" if len(distinct) > MAX_APART_LISTED else "")


def _scatter_caption(
    result: plots.Scatter, label: str, target: str, rho: float, missing: int
) -> str:
    text = f"{_plural(result.shown, 'architecture')}, Spearman rho {rho:.3f}."
    if missing:
        text += (
            f" {_plural(missing, 'scored architecture')} without a finite target or score "
            "not drawn."
        )
    for name, plan in ((label, result.x_plan), (target, result.y_plan)):
        if plan.scale == "log":
            text += f" Log axis: {name} spans orders of magnitude."
        elif plan.scale == "symlog":
            text += f" Symlog axis (linear within ±{plan.linthresh:.3g}): {name} has heavy tails."
    if result.set_apart:
        sides = [
            f"{side}, {label if side in ('left', 'right') else target} = {_listed(values)}"
            for side, values in result.apart.items()
        ]
        text += (
            f" {_plural(result.set_apart, 'architecture')} far from the rest drawn apart (red "
            f"crosses; {'; '.join(sides)})."
        )
    return text


def _benchmark_section(
    view: StoreView, truth: pd.Series, target: str, n_boot: int, seed: int, searched: bool
) -> str:
    stats = correlations(view.oriented, truth, n_boot, seed)
    if stats.empty:
        return paragraph(f"No proxy has 3 architectures with a {target} value.")
    settings = view.settings
    rows = [
        [
            Cell(row["label"]),
            number(row["spearman"], "{:.3f}"),
            Cell(f"[{row['low']:.3f}, {row['high']:.3f}]", row["low"]),
            number(row["n"], "{:,}"),
            number(settings.loc[row["label"], "seconds"]),
            Cell(str(settings.loc[row["label"], "dataset"])),
            Cell(str(settings.loc[row["label"], "init"])),
        ]
        for _, row in stats.iterrows()
    ]
    headers = ["proxy", "Spearman", "95% interval", "n", "s/arch", "data", "init"]
    absent = [p for p in SIZE_PROXIES if p not in set(settings["proxy"])]
    parts = [
        f"<h2>Correlation with {html.escape(target)}</h2>",
        paragraph(
            "Scores of lower-is-better proxies are negated first, so a positive rho means the "
            "proxy ranks architectures like the target. Interval: percentile bootstrap over "
            f"architectures ({n_boot:,} resamples). Click a header to sort."
            + (
                " The architectures are those in the store, here including a search's queries: "
                "not a random sample of the space, so the correlations hold for them only."
                if searched
                else ""
            )
        ),
        table(headers, rows),
    ]
    if absent:
        parts.append(
            paragraph(
                f"Not in this store: {', '.join(absent)}, the size measures a proxy should beat; "
                f"score them with trainfree score {view.space} ... --proxy {','.join(absent)} "
                "--store STORE to compare."
            )
        )
    parts.append(figure(plots.correlation_chart(stats, target), "correlation chart"))
    parts.append("<h2>Proxy vs target</h2><div class='grid'>")
    y = truth.reindex(view.scores.index).to_numpy()
    for _, row in stats.iterrows():
        label = row["label"]
        x = view.scores[label].to_numpy()
        result = plots.scatter(label, x, y, target)
        missing = int(np.isfinite(x).sum()) - result.shown
        caption = _scatter_caption(result, label, target, row["spearman"], missing)
        parts.append(figure(result.image, f"{label} vs {target}", caption))
    parts.append("</div>")
    return "".join(parts)


def _settings_section(view: StoreView) -> str:
    headers = ["proxy", "higher is better", "archs", "failures", "s/arch"]
    headers += [SETTING_NAMES[f] for f in SETTING] + ["seeds", "device"]
    rows = []
    for label, row in view.settings.iterrows():
        cells = [
            Cell(str(label)),
            Cell("yes" if view.signs.get(label, 1.0) > 0 else "no"),
            number(row["archs"], "{:,}"),
            number(row["failures"], "{:,}"),
            number(row["seconds"]),
        ]
        cells += [Cell(setting_text(f, row[f])) for f in SETTING]
        devices = row["devices"] if isinstance(row["devices"], list) else []
        cells += [Cell(", ".join(map(str, row["seeds"]))), Cell(", ".join(devices))]
        rows.append(cells)
    return (
        "<h2>Scores and their settings</h2>"
        + paragraph(
            "Every score is a function of the architecture, the proxy, the data, the init and "
            "the seed; this is what each proxy's scores in the store used (s/arch: median "
            "scoring time). A proxy scored under several settings gets one column per setting; "
            "several seeds of one setting are averaged."
        )
        + table(headers, rows)
    )


def _failures_section(view: StoreView) -> str:
    failures = view.failures.assign(reason=view.failures["error"].fillna("").str.split("\n").str[0])
    groups = (
        failures.groupby(["label", "reason"])
        .agg(archs=("arch", "nunique"), example=("arch", "first"))
        .sort_values("archs", ascending=False)
        .reset_index()
    )
    shown = groups.head(MAX_FAILURE_GROUPS)
    rows = [
        [Cell(r["label"]), Cell(r["reason"]), number(r["archs"], "{:,}"), code(r["example"])]
        for _, r in shown.iterrows()
    ]
    parts = [
        f"<h2>Failures ({len(view.failures):,})</h2>",
        paragraph("A failed score is recorded with its reason and left out of every statistic."),
        table(["proxy", "reason", "archs", "example"], rows),
    ]
    if len(groups) > len(shown):
        parts.append(paragraph(f"{len(groups) - len(shown):,} more kinds of failure not listed."))
    return "".join(parts)


def _belongs(view: StoreView, log: RunLog) -> bool:
    """Whether a search run searched ``view``'s space: as recorded, else when one of its
    recorded scores is a score of that space in the store (or, without recorded scores, one of
    its architectures was scored there)."""
    if log.space is not None:
        return log.space == view.space
    triples = {(e.arch, p, v) for e in log.events for p, v in e.scores.items()}
    if triples:
        stored = view.rows[["arch", "proxy", "value"]].itertuples(index=False, name=None)
        return any(t in triples for t in stored)
    return any(e.arch in view.scores.index for e in log.events)


def write_report(
    store_path: str | Path,
    out_dir: str | Path,
    *,
    benchmark: BenchmarkTable | None = None,
    target: str | None = None,
    space: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Path:
    """Write ``out_dir/index.html``, a self-contained page about the scores of ``space`` in
    the store at ``store_path`` (default: its only space) and its search runs.

    With ``benchmark`` and its column ``target``: correlations with the target (``n_boot``
    bootstrap resamples seeded by ``seed`` for the 95% intervals), scatter plots, and the
    trajectory of each search in target units. Returns the path of ``index.html``.
    """
    if (benchmark is None) != (target is None):
        raise TrainfreeError("give both a benchmark and its target column, or neither")
    space = store_space(store_path, space)
    truth = None
    if benchmark is not None and target is not None:
        truth = pd.Series(benchmark.values(target), index=benchmark.archs, dtype=float)
    with open_store(store_path) as store:
        view = read_view(store, space)
        logs = read_runs(store)
    runs = [replay(log, truth) for log in logs if log.events and _belongs(view, log)]
    best = float(np.nanmax(truth.to_numpy())) if truth is not None and truth.notna().any() else None
    parts = [f"<h1>trainfree report: {html.escape(space)}</h1>", _summary(view, store_path, runs)]
    if runs:
        parts.append(_search_section(view, runs, target, best))
    if truth is None or target is None:
        parts.append(
            paragraph(
                "No benchmark given, so correlations with trained accuracy are not shown "
                "(trainfree report STORE --benchmark FILE --target COLUMN)."
            )
        )
    else:
        parts.append(_benchmark_section(view, truth, target, n_boot, seed, bool(runs)))
    if len(view.scores.columns) >= 2:
        matrix = agreement(view.oriented)
        parts += [
            "<h2>Proxy agreement</h2>",
            figure(
                plots.heatmap(matrix, list(view.scores.columns)),
                "proxy agreement",
                "Spearman rho between every two proxies over the architectures both scored "
                "(blank: fewer than 3), each oriented so that larger is better.",
            ),
        ]
    parts.append(_settings_section(view))
    if len(view.failures):
        parts.append(_failures_section(view))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page(f"trainfree report: {space}", "".join(parts)), encoding="utf-8")
    return index
