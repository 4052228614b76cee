"""An HTML report of a result store: what a run found, as pictures.

``write_report`` reads the SQLite store and writes ``index.html`` with PNG plots beside it:
proxy vs benchmark target scatters, Spearman's rho per proxy with percentile-bootstrap 95%
intervals (resampling architectures), the proxy x proxy rank-correlation heatmap, and the
search trajectory when the store holds one. A proxy's score of one architecture computed with
several settings (seeds, batch sizes) is averaged. Correlations are oriented by each proxy's
``higher_is_better``, so a positive rho always means "ranks architectures like the target"
(for the heatmap: "ranks them like the other proxy").
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainfree.evaluate import BenchmarkTable, bootstrap_ci, finite_pairs, spearman
from trainfree.errors import TrainfreeError
from trainfree.proxies import get_proxy
from trainfree.run.store import ResultStore

LOG_DECADES = 3  # a positive axis spanning more than this many decades is drawn in log scale
MAX_FAILURES_SHOWN = 50


def _open(store_path: str | Path) -> ResultStore:
    if not Path(store_path).is_file():
        raise TrainfreeError(f"no result store at {store_path}")
    return ResultStore(store_path)


def store_space(store_path: str | Path, space: str | None = None) -> str:
    """The space whose scores a report shows: ``space`` if the store holds it, else the only one."""
    with _open(store_path) as store:
        held = sorted({row["space"] for row in store.rows()})
    if space is not None and space not in held:
        raise TrainfreeError(f"{store_path} holds no scores of space {space!r}")
    if space is None and len(held) != 1:
        raise TrainfreeError(
            f"{store_path} holds no scores" if not held
            else f"{store_path} holds several spaces ({', '.join(held)}): choose one with --space"
        )  # fmt: skip
    return space or held[0]


def _direction(proxy: str) -> float:
    """+1 when higher is better (or the proxy is unknown here), -1 when lower is better."""
    try:
        return 1.0 if get_proxy(proxy).higher_is_better else -1.0
    except TrainfreeError:
        return 1.0


def _file_name(prefix: str, proxy: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_.-]', '_', proxy)}.png"


def _save(figure: Figure, out_dir: Path, name: str) -> str:
    figure.tight_layout()
    figure.savefig(out_dir / name, dpi=100)
    return name


def _correlations(scores: pd.DataFrame, truth: pd.Series, n_boot: int, seed: int) -> pd.DataFrame:
    """Spearman's rho of each (oriented) proxy with the target, its interval and pair count."""
    records = []
    for proxy in scores.columns:
        x = scores[proxy].to_numpy() * _direction(proxy)
        y = truth.reindex(scores.index).to_numpy()
        try:
            n = len(finite_pairs(x, y)[0])
            rho = spearman(x, y)
            low, high = bootstrap_ci(spearman, x, y, n_boot=n_boot, seed=seed)
        except TrainfreeError:  # fewer than 3 architectures with both values
            continue
        records.append({"proxy": proxy, "n": n, "spearman": rho, "low": low, "high": high})
    columns = ["proxy", "n", "spearman", "low", "high"]
    return pd.DataFrame(records, columns=columns).sort_values("spearman", ascending=False)


def _correlation_chart(table: pd.DataFrame, target: str, out_dir: Path) -> str:
    figure = Figure(figsize=(max(5.0, 0.5 * len(table) + 2), 4))
    axes = figure.add_subplot()
    errors = [table["spearman"] - table["low"], table["high"] - table["spearman"]]
    axes.bar(table["proxy"], table["spearman"], yerr=errors, capsize=3, color="tab:blue")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_ylim(-1, 1)
    axes.set_ylabel(f"Spearman rho with {target}")
    axes.set_title("Spearman rho, bootstrap 95% interval", fontsize=10)
    axes.tick_params(axis="x", labelrotation=60)
    return _save(figure, out_dir, "correlation.png")


def _log_scale(values: np.ndarray) -> bool:
    """Whether finite ``values`` are all positive and span more than :data:`LOG_DECADES`."""
    values = values[np.isfinite(values)]
    return bool(len(values) and values.min() > 0 and values.max() > values.min() * 10**LOG_DECADES)


def _scatter(proxy: str, x: np.ndarray, y: np.ndarray, target: str, out_dir: Path) -> str:
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    figure = Figure(figsize=(5, 4))
    axes = figure.add_subplot()
    axes.scatter(x, y, s=8, alpha=0.6)
    if _log_scale(x):
        axes.set_xscale("log")
    axes.set_xlabel(proxy)
    axes.set_ylabel(target)
    axes.set_title(f"{proxy} vs {target} ({len(x)} architectures)", fontsize=10)
    return _save(figure, out_dir, _file_name("scatter", proxy))


def _agreement(scores: pd.DataFrame) -> np.ndarray:
    """Spearman's rho between every two oriented proxies over the archs both scored (NaN: <3)."""
    oriented = scores * [_direction(p) for p in scores.columns]
    n = len(scores.columns)
    matrix = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i, n):
            try:
                value = spearman(oriented.iloc[:, i], oriented.iloc[:, j])
            except TrainfreeError:
                continue
            matrix[i, j] = matrix[j, i] = value
    return matrix


def _heatmap(scores: pd.DataFrame, out_dir: Path) -> str:
    matrix = _agreement(scores)
    names = list(scores.columns)
    size = max(4.0, 0.5 * len(names) + 2)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right")
    axes.set_yticks(range(len(names)), names)
    if len(names) <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                colour = "white" if abs(value) > 0.6 else "black"
                axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color=colour)
    figure.colorbar(image, ax=axes, label="Spearman rho")
    axes.set_title("Proxy agreement (archs scored by both)", fontsize=10)
    return _save(figure, out_dir, "proxy_agreement.png")


def _trajectory(runs: dict[str, list[float]], out_dir: Path) -> str:
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    for run, fitness in runs.items():
        best = np.fmax.accumulate(np.asarray(fitness, dtype=float))
        axes.plot(np.arange(1, len(best) + 1), best, label=run)
    axes.set_xlabel("evaluation")
    axes.set_ylabel("best fitness so far")
    axes.set_title("Search trajectory")
    if len(runs) > 1:
        axes.legend(fontsize=8)
    return _save(figure, out_dir, "search.png")


def _search_runs(store: ResultStore) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    for run, _, _, payload in store.events("search"):
        fitness = payload.get("fitness")
        runs.setdefault(run, []).append(np.nan if fitness is None else float(fitness))
    return runs


def _table(frame: pd.DataFrame, formats: dict[str, Callable[[object], str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(formats.get(c, str)(v))}</td>" for c, v in row.items())
        + "</tr>"
        for _, row in frame.iterrows()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(name: str, alt: str) -> str:
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:75em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "img{max-width:100%;margin:.5em}"
)


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
    """Write ``out_dir/index.html`` and its PNGs for the scores of ``space`` in the store.

    ``space`` defaults to the store's only space. With ``benchmark`` (and its column
    ``target``) the accuracy plots and the correlation table are drawn; ``n_boot`` bootstrap
    resamples (seeded by ``seed``) give the 95% intervals. Returns the path of ``index.html``.
    """
    if (benchmark is None) != (target is None):
        raise TrainfreeError("give both a benchmark and its target column, or neither")
    space = store_space(store_path, space)
    truth = pd.Series(benchmark.values(target), index=benchmark.archs) if benchmark else None
    with _open(store_path) as store:
        rows = pd.DataFrame(store.rows(space=space))
        runs = _search_runs(store)
    ok = rows[rows["status"] == "ok"]
    scores = ok.pivot_table(index="arch", columns="proxy", values="value", aggfunc="mean")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    parts = [
        f"<h1>trainfree report: {html.escape(space)}</h1>",
        f"<p>Store <code>{html.escape(str(store_path))}</code>: {len(scores)} architectures, "
        f"{len(scores.columns)} proxies, {len(ok)} scores, {len(rows) - len(ok)} failures.</p>",
    ]
    if truth is None:
        parts.append(
            "<p>No benchmark given, so the accuracy plots and correlations are skipped "
            "(<code>trainfree report STORE --benchmark FILE --target COLUMN</code>).</p>"
        )
    else:
        parts.append(_benchmark_section(scores, truth, target, out, n_boot, seed))
    if len(scores.columns) >= 2:
        parts += ["<h2>Proxy agreement</h2>", _image(_heatmap(scores, out), "proxy agreement")]
    if runs:
        parts += ["<h2>Search</h2>", _image(_trajectory(runs, out), "search trajectory")]
    failed = rows.loc[rows["status"] != "ok", ["arch", "proxy", "error"]]
    if len(failed):
        parts += [
            f"<h2>Failures ({len(failed)})</h2>",
            _table(failed.head(MAX_FAILURES_SHOWN), {}),
        ]
    index = out / "index.html"
    page = "".join(parts)
    index.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>trainfree report</title>"
        f"<style>{_STYLE}</style></head><body>{page}</body></html>\n"
    )
    return index


def _benchmark_section(
    scores: pd.DataFrame, truth: pd.Series, target: str, out: Path, n_boot: int, seed: int
) -> str:
    table = _correlations(scores, truth, n_boot, seed)
    if table.empty:
        return f"<p>No proxy has 3 architectures with a {html.escape(target)} value.</p>"
    shown = table.assign(
        interval=[
            f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(table["low"], table["high"], strict=True)
        ]
    )
    parts = [
        f"<h2>Correlation with {html.escape(target)}</h2>",
        "<p>Scores of lower-is-better proxies are negated first, so a positive rho means the "
        "proxy ranks architectures like the target.</p>",
        _table(shown[["proxy", "n", "spearman", "interval"]], {"spearman": "{:.3f}".format}),
        _image(_correlation_chart(table, target, out), "correlation chart"),
        "<h2>Proxy vs target</h2>",
    ]
    y = truth.reindex(scores.index).to_numpy()
    for proxy in table["proxy"]:
        name = _scatter(proxy, scores[proxy].to_numpy(), y, target, out)
        parts.append(_image(name, f"{proxy} vs {target}"))
    return "".join(parts)
