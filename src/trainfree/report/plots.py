"""The report's figures, as PNG data URIs (the page embeds them, so it is one file).

Scatter axes are planned by :func:`plan_axis`: a log axis when a positive proxy has a heavy
tail, a symlog axis when a proxy of both signs has one, and values far outside the rest (floor
values such as the all-``none`` cell's synflow, or its 10% accuracy) drawn apart in narrow
strips beside, below or above the main axes (a broken axis), counted and never dropped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from trainfree.report.trajectory import Trajectory

#: A log or symlog axis is chosen when it spreads the middle half of the values over at least
#: this many times the share of the axis that a linear one gives them (a choice, not a paper's).
SPREAD_GAIN = 2.0
#: Resolution of the embedded PNGs; the page shows them at 96 dots per inch, so they stay sharp
#: on high-density screens.
DPI = 150
CSS_DPI = 96


@dataclass(frozen=True)
class Png:
    """An embedded image: its data URI and the width (CSS pixels) to show it at."""

    uri: str
    width: int


def new_figure(width: float, height: float) -> Figure:
    """A figure (inches) laid out by matplotlib's constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def png(figure: Figure) -> Png:
    """Render ``figure`` as a PNG data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    width = round(figure.get_figwidth() * CSS_DPI)
    return Png("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), width)


@dataclass(frozen=True)
class AxisPlan:
    """How to draw one variable: ``scale`` (linear, log or symlog, with ``linthresh``) and the
    range ``[low, high]`` outside which values are drawn apart."""

    scale: str = "linear"
    low: float = -np.inf
    high: float = np.inf
    linthresh: float = 1.0

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``values`` on the plan's scale (log: non-positive values become NaN)."""
        if self.scale == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(values > 0, np.log10(values), np.nan)
        if self.scale == "symlog":
            return np.sign(values) * np.log10(1.0 + np.abs(values) / self.linthresh)
        return values

    def below(self, values: np.ndarray) -> np.ndarray:
        return (values < self.low) | ((values <= 0) if self.scale == "log" else False)

    def above(self, values: np.ndarray) -> np.ndarray:
        return values > self.high


def _candidates(values: np.ndarray) -> list[AxisPlan]:
    """Scales worth trying for finite ``values``: linear; log when the middle 90% is positive;
    symlog (linear within the 10% quantile of the magnitudes) when it holds both signs."""
    q05, q95 = np.quantile(values, [0.05, 0.95])
    plans = [AxisPlan()]
    if q05 > 0:
        plans.append(AxisPlan("log"))
    magnitude = np.abs(values[values != 0])
    if q05 < 0 < q95 and len(magnitude):
        plans.append(AxisPlan("symlog", linthresh=float(np.quantile(magnitude, 0.1))))
    return plans


def _apart(placed: np.ndarray) -> tuple[float, float]:
    """The range of the values that stay on the main axes, from finite ``placed`` values (on
    the plan's scale): from either end, a value (with its ties) is set apart while the gap to
    the next one is wider than the span of all the rest, that is while it would take more than
    half of the axis for itself, as the all-``none`` cell's synflow floor does."""
    kept = np.unique(placed)
    low, high = 0, len(kept) - 1
    moved = True
    while moved and high - low >= 2:
        moved = False
        if kept[low + 1] - kept[low] > kept[high] - kept[low + 1]:
            low, moved = low + 1, True
        if high - low >= 2 and kept[high] - kept[high - 1] > kept[high - 1] - kept[low]:
            high, moved = high - 1, True
    return float(kept[low]), float(kept[high])


def _spread(plan: AxisPlan, values: np.ndarray) -> tuple[AxisPlan, float]:
    """``plan`` with the range :func:`_apart` leaves on its scale, and the share of that range
    the middle half of the values covers (how readable the main axes are)."""
    placed = plan.transform(values)
    placed = placed[np.isfinite(placed)]
    low, high = _apart(placed)
    inside = placed[(placed >= low) & (placed <= high)]
    q1, q3 = np.quantile(inside, [0.25, 0.75])
    share = (q3 - q1) / (high - low) if high > low else 1.0
    kept = values[(plan.transform(values) >= low) & (plan.transform(values) <= high)]
    return replace(plan, low=float(kept.min()), high=float(kept.max())), float(share)


def plan_axis(values: np.ndarray) -> AxisPlan:
    """How to draw ``values`` (non-finite ones ignored): the values far from the rest drawn
    apart (:func:`_apart`), and of the linear, log and symlog scales (:func:`_candidates`) the
    one that spreads the middle half of the rest widest, linear unless another spreads it
    :data:`SPREAD_GAIN` times wider (a heavy tail)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if len(np.unique(finite)) < 4:
        return AxisPlan()
    plans = [_spread(plan, finite) for plan in _candidates(finite)]
    best, share = max(plans[1:], key=lambda p: p[1], default=plans[0])
    return best if share > SPREAD_GAIN * plans[0][1] else plans[0][0]


#: Which strip of a scatter holds the points drawn apart: -1 below the fences, +1 above.
SIDES = {("x", -1): "left", ("x", 1): "right", ("y", -1): "bottom", ("y", 1): "top"}


@dataclass(frozen=True)
class Scatter:
    """A drawn scatter and what its caption must say: how many points it shows, how many of
    them are drawn apart and their values on each side (``left``/``right``: the proxy's,
    ``bottom``/``top``: the target's; sorted; a point in a corner counts on both sides), and
    the plans of both axes."""

    image: Png
    shown: int
    set_apart: int
    apart: dict[str, np.ndarray]
    x_plan: AxisPlan
    y_plan: AxisPlan


def _side(plan: AxisPlan, values: np.ndarray) -> np.ndarray:
    """-1, 0 or +1 per value: drawn apart below, inside, drawn apart above."""
    return np.where(plan.below(values), -1, np.where(plan.above(values), 1, 0))


def _scale(axes: Axes, axis: str, plan: AxisPlan) -> None:
    """Give ``axes`` the scale ``plan`` chose for its ``axis`` ("x" or "y")."""
    options = {"linthresh": plan.linthresh} if plan.scale == "symlog" else {}
    (axes.set_xscale if axis == "x" else axes.set_yscale)(plan.scale, **options)


def _strip_range(axes: Axes, axis: str, values: np.ndarray) -> None:
    """A strip's own range, ticked at the extreme values it holds."""
    low, high = float(values.min()), float(values.max())
    pad = 0.3 * ((high - low) or max(abs(low), 1.0) * 0.3)
    ticks = np.unique([low, high])
    labels = [f"{t:.3g}" for t in ticks]
    if axis == "x":
        axes.set_xlim(low - pad, high + pad)
        axes.set_xticks(ticks, labels, rotation=45, fontsize=7)
    else:
        axes.set_ylim(low - pad, high + pad)
        axes.set_yticks(ticks, labels, fontsize=7)


def _cells(figure: Figure, rows: list[int], columns: list[int]) -> dict[tuple[int, int], Axes]:
    """A broken-axis grid: the main axes ``(0, 0)`` and a narrow strip for every other
    (row, column) side; strips share the main axes' x (same column) or y (same row), inner
    spines are hidden and only the outer edges carry ticks."""
    grid = figure.add_gridspec(
        len(rows),
        len(columns),
        width_ratios=[6 if c == 0 else 1 for c in columns],
        height_ratios=[5 if r == 0 else 1 for r in rows],
    )
    cells = {}
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            axes = cells[r, c] = figure.add_subplot(grid[i, j])
            first_column, last_row = j == 0, i == len(rows) - 1
            axes.spines["left"].set_visible(first_column)
            axes.spines["right"].set_visible(j == len(columns) - 1)
            axes.spines["top"].set_visible(i == 0)
            axes.spines["bottom"].set_visible(last_row)
            axes.tick_params(left=first_column, labelleft=first_column)
            axes.tick_params(bottom=last_row, labelbottom=last_row)
    for (r, c), axes in cells.items():
        if r != 0:
            axes.sharex(cells[0, c])
        if c != 0:
            axes.sharey(cells[r, 0])
    return cells


def scatter(label: str, x: np.ndarray, y: np.ndarray, target: str) -> Scatter:
    """``label``'s raw scores against the target on planned axes (:func:`plan_axis` for each),
    the points outside either plan's range drawn apart (red crosses) in narrow strips beside,
    below or above the main axes: a broken axis, so that one floor value does not squeeze the
    rest into a corner. Only pairs with both values finite are drawn (the caller counts the
    others)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    x_plan, y_plan = plan_axis(x), plan_axis(y)
    x_side, y_side = _side(x_plan, x), _side(y_plan, y)
    columns = [c for c in (-1, 0, 1) if c == 0 or (x_side == c).any()]
    rows = [r for r in (1, 0, -1) if r == 0 or (y_side == r).any()]
    figure = new_figure(4.8, 3.6)
    figure.get_layout_engine().set(wspace=0.0, hspace=0.0)
    cells = _cells(figure, rows, columns)
    size, alpha = (10, 0.7) if len(x) <= 500 else (4, 0.35)
    for (r, c), axes in cells.items():
        chosen = (x_side == c) & (y_side == r)
        if (r, c) == (0, 0):
            axes.scatter(x[chosen], y[chosen], s=size, alpha=alpha, color="tab:blue")
        else:
            axes.scatter(x[chosen], y[chosen], s=14, marker="x", color="tab:red")
    _scale(cells[0, 0], "x", x_plan)
    _scale(cells[0, 0], "y", y_plan)
    for c in columns:
        if c != 0:
            _strip_range(cells[rows[-1], c], "x", x[x_side == c])
    for r in rows:
        if r != 0:
            _strip_range(cells[r, columns[0]], "y", y[y_side == r])
    scale = "" if x_plan.scale == "linear" else f" ({x_plan.scale} axis)"
    cells[rows[-1], 0].set_xlabel(label + scale)
    cells[0, columns[0]].set_ylabel(target)
    figure.suptitle(f"{label} vs {target} ({len(x)} architectures)", fontsize=10)
    apart = {SIDES["x", c]: np.sort(x[x_side == c]) for c in columns if c}
    apart |= {SIDES["y", r]: np.sort(y[y_side == r]) for r in rows if r}
    set_apart = int(((x_side != 0) | (y_side != 0)).sum())
    return Scatter(png(figure), len(x), set_apart, apart, x_plan, y_plan)


def correlation_chart(table: pd.DataFrame, target: str) -> Png:
    """Spearman's rho per column with its interval, best at the top (horizontal bars, so long
    proxy names stay readable on a narrow screen)."""
    rows = table.iloc[::-1]
    figure = new_figure(4.8, 0.32 * len(rows) + 1.3)
    axes = figure.add_subplot()
    errors = [rows["spearman"] - rows["low"], rows["high"] - rows["spearman"]]
    axes.barh(rows["label"], rows["spearman"], xerr=errors, capsize=3, color="tab:blue")
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlim(-1, 1)
    axes.set_xlabel(f"Spearman rho with {target}, 95% interval")
    axes.tick_params(axis="y", labelsize=8)
    return png(figure)


def heatmap(matrix: np.ndarray, names: Sequence[str]) -> Png:
    """Rank agreement between every two columns (NaN cells left blank)."""
    size = max(3.2, 0.45 * len(names) + 2.2)
    figure = new_figure(min(size + 1, 9.0), min(size, 8.0))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    if len(names) <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                colour = "white" if abs(value) > 0.6 else "black"
                axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=axes, label="Spearman rho")
    return png(figure)


def trajectory_chart(runs: Sequence[Trajectory], target: str | None, best: float | None) -> Png:
    """Per run, the leader after every query: its ``target`` value (solid) beside the best
    target among the architectures queried so far (dashed) and the table's ``best``; without a
    target, the leader's mean component percentile. Dots mark where the leader changed."""
    figure = new_figure(5.6, 3.8)
    axes = figure.add_subplot()
    measure = "leader_target" if target is not None else "percentile"
    for i, run in enumerate(runs):
        colour = f"C{i % 10}"
        steps = run.steps
        axes.step(steps["step"], steps[measure], where="post", color=colour, linewidth=1.6)
        changes = steps[steps["changed"]]
        axes.plot(changes["step"], changes[measure], "o", color=colour, markersize=4)
        if target is not None:
            dashed = {"where": "post", "color": colour, "linestyle": "--", "linewidth": 1}
            axes.step(steps["step"], steps["best_target"], alpha=0.7, **dashed)
    handles = [Line2D([], [], color="black", marker="o", markersize=4, label="the search's pick")]
    if target is not None:
        handles.append(Line2D([], [], color="black", linestyle="--", label="best queried"))
        if best is not None:
            axes.axhline(best, color="grey", linestyle=":", linewidth=1)
            handles.append(Line2D([], [], color="grey", linestyle=":", label="best in table"))
        axes.set_ylabel(target)
    else:
        axes.set_ylim(0, 100)
        axes.set_ylabel("pick's mean percentile (%)")
    if len(runs) > 1:
        handles += [
            Line2D([], [], color=f"C{i % 10}", label=_short(r.run)) for i, r in enumerate(runs)
        ]
    axes.margins(y=0.08)
    axes.legend(handles=handles, fontsize=8, loc="lower right")  # a rising curve leaves it free
    axes.set_xlabel("query")
    return png(figure)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
