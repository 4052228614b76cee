"""NEAR beyond scoring: MLP layer-size estimation and activation/initialisation choice
(Husistein, Reiher, Eckhoff, ICLR 2025; official ``near_score.estimate_layer_size``).

**Layer size.** For widths ``n`` of one hidden layer (everything else fixed), the *relative* score
is that layer's NEAR score divided by ``n``; the official example scores the layer's activation
output (its ``layer_index`` points at the SiLU after the hidden Linear), and so does
:func:`estimate_layer_size`. The point (1, 1) is prepended and ``f(n) = a + b n^c`` is fitted with
``curve_fit`` (p0 = (1, 2, -1), maxfev = 10000). The fitted curve falls with ``n``; the size is
where its slope flattens to the threshold ``t``:

* ``published`` (the code's formula, the default): ``n* = t^(1/(c-1))``, which ignores the
  factor ``b c`` of the derivative;
* ``exact``: solve ``|f'(n)| = |b c| n^(c-1) = t``, i.e. ``n* = (t/|b c|)^(1/(c-1))``. The spec
  writes ``(t/(b c))^(1/(c-1))``; since ``b c < 0`` for a falling curve, the magnitude is meant.

The official function's default threshold is 0.005, its example uses 0.01 with widths
``10 * 2**i`` (i < 8) and 5 repeats; this module follows the example (``DEFAULT_THRESHOLD``).
A layer scored on fewer rows than its width has effective rank at most the row count, so small
datasets cap the relative score of wide layers (the official code behaves the same).

**Activation and initialisation.** Every (activation, init) pair of a fixed MLP shape is scored
with the whole-network NEAR score; higher is better. The paper reports that this reliably flags
bad combinations (e.g. some Tanhshrink ones) but does not always order near-ties.

Repeat ``r`` uses seed ``seed + r`` for the weights and for the order of the training rows, as
:func:`trainfree.run.scoring.score_arch` does, through the same
:func:`~trainfree.run.scoring.build_network`; the MLP keeps the init its architecture names.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import OptimizeWarning, curve_fit
from torch import nn

from trainfree.data import TabularData, make_batch
from trainfree.errors import TrainfreeError
from trainfree.init import INITS
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.functional import make_generator
from trainfree.proxies.hooks import record_outputs
from trainfree.proxies.near import activation_matrix, effective_rank, square_block
from trainfree.run.scoring import build_network
from trainfree.spaces.mlp import ACTIVATIONS, MLPArch, MLPSpace

FORMULAS: tuple[str, ...] = ("published", "exact")
DEFAULT_WIDTHS: tuple[int, ...] = tuple(10 * 2**i for i in range(8))
DEFAULT_THRESHOLD = 0.01
P0 = (1.0, 2.0, -1.0)


def power_curve(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """The fitted model of the relative NEAR score, ``a + b n^c``."""
    return a + b * np.power(n, c)


@dataclass(frozen=True)
class PowerFit:
    """A fit of ``a + b n^c`` to relative scores and the width it implies."""

    a: float
    b: float
    c: float
    raw_width: float
    threshold: float
    formula: str

    @property
    def width(self) -> int:
        """The estimate rounded to a layer width (at least 1)."""
        return max(1, round(self.raw_width))


@dataclass(frozen=True)
class LayerSizeEstimate:
    """The result of :func:`estimate_layer_size`: the fit plus the scores it was fitted to."""

    fit: PowerFit
    arch: str
    layer: int
    widths: tuple[int, ...]
    relative_scores: tuple[float, ...]
    relative_stds: tuple[float, ...]

    @property
    def width(self) -> int:
        return self.fit.width

    def as_json(self) -> dict:
        fit = asdict(self.fit)
        return {
            "width": self.width,
            **fit,
            "arch": self.arch,
            "layer": self.layer,
            "widths": list(self.widths),
            "relative_scores": list(self.relative_scores),
            "relative_stds": list(self.relative_stds),
        }


def _check_formula(formula: str) -> None:
    if formula not in FORMULAS:
        raise TrainfreeError(f"unknown formula {formula!r} (known: {', '.join(FORMULAS)})")


def solve_width(a: float, b: float, c: float, threshold: float, formula: str) -> float:
    """The width at which the fitted curve's slope reaches ``threshold`` (module docstring)."""
    del a  # the constant does not affect the slope
    _check_formula(formula)
    if not all(math.isfinite(v) for v in (b, c)):
        raise TrainfreeError("the power-law fit of the relative NEAR score did not converge")
    if b * c >= 0 or c >= 1:
        raise TrainfreeError(
            f"the fitted relative NEAR score a + b n^c (b={b:.3g}, c={c:.3g}) does not flatten "
            "with width; cannot size the layer"
        )
    scale = threshold if formula == "published" else threshold / abs(b * c)
    with np.errstate(over="ignore"):
        width = float(np.power(scale, 1.0 / (c - 1.0)))
    if not math.isfinite(width) or width <= 0:
        raise TrainfreeError(f"the fit gives no finite layer width (c={c:.3g})")
    return width


def fit_relative_scores(
    widths: Sequence[int],
    relative_scores: Sequence[float],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    formula: str = "published",
) -> PowerFit:
    """Prepend (1, 1), fit ``a + b n^c`` and solve for the width (module docstring)."""
    if threshold <= 0:
        raise TrainfreeError(f"threshold must be positive, got {threshold}")
    if len(widths) != len(relative_scores) or len(widths) < 3:
        raise TrainfreeError("layer sizing needs at least 3 widths, each with a relative score")
    x = np.array([1.0, *widths], dtype=float)
    y = np.array([1.0, *relative_scores], dtype=float)
    if not np.all(np.isfinite(y)):
        raise TrainfreeError("a relative NEAR score is not finite; cannot fit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, b, c), _ = curve_fit(power_curve, x, y, p0=P0, maxfev=10000)
    except (RuntimeError, ValueError) as exc:
        raise TrainfreeError(
            f"the power-law fit of the relative NEAR score failed: {exc}"
        ) from None
    a, b, c = float(a), float(b), float(c)
    return PowerFit(a, b, c, solve_width(a, b, c, threshold, formula), threshold, formula)


def layer_near_score(model: nn.Module, inputs: torch.Tensor, module: str, seed: int) -> float:
    """NEAR of the single module named ``module`` (the official ``layer_index``): the effective
    rank of its output's square block, built exactly as the ``near`` proxy builds it."""
    with torch.inference_mode(), record_outputs(model, lambda name, _: name == module) as out:
        model(inputs)
    if len(out) != 1:
        raise TrainfreeError(f"module {module!r} ran {len(out)} times; expected once")
    matrix, stride = activation_matrix(out[0][1])
    return effective_rank(square_block(matrix, stride, make_generator(seed)))


def _scores(data: TabularData, arch: str, repeats: int, seed: int, layer: int | None) -> list:
    """NEAR of ``arch`` for each repeat: the whole network, or only hidden layer ``layer``."""
    if repeats < 1:
        raise TrainfreeError(f"repeats must be a positive integer, got {repeats}")
    space, spec = MLPSpace(), get_proxy("near")
    values = []
    for repeat in range(repeats):
        rows = make_batch(data, batch_size=len(data.y_train), seed=seed + repeat)
        model, batch = build_network(partial(space.build, arch), rows, seed=seed + repeat)
        if layer is None:
            values.append(compute_proxy(spec, model, batch))
        else:
            values.append(layer_near_score(model, batch.inputs, f"act{layer}", seed + repeat))
    return values


def estimate_layer_size(
    data: TabularData,
    *,
    hidden: Sequence[int] = (100,),
    layer: int = 0,
    activation: str = "relu",
    init: str = "default",
    widths: Sequence[int] = DEFAULT_WIDTHS,
    repeats: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
    formula: str = "published",
    seed: int = 0,
) -> LayerSizeEstimate:
    """Estimate the width of hidden layer ``layer`` of the MLP ``hidden`` for ``data``.

    ``hidden[layer]`` is replaced by each of ``widths``; the other widths, the activation and the
    init stay fixed. Returns the fit, the rounded width and the mean relative scores.
    """
    _check_formula(formula)
    if not 0 <= layer < len(hidden):
        raise TrainfreeError(f"layer must lie in 0..{len(hidden) - 1}, got {layer}")
    if len(set(widths)) != len(widths) or min(widths, default=0) < 1:
        raise TrainfreeError("widths must be distinct positive integers")
    base = MLPArch(tuple(hidden), activation, init)
    means, stds = [], []
    for n in widths:
        arch = MLPArch((*base.hidden[:layer], n, *base.hidden[layer + 1 :]), activation, init)
        values = [v / n for v in _scores(data, str(arch), repeats, seed, layer)]
        means.append(statistics.fmean(values))
        stds.append(statistics.pstdev(values))
    fit = fit_relative_scores(widths, means, threshold=threshold, formula=formula)
    return LayerSizeEstimate(fit, str(base), layer, tuple(widths), tuple(means), tuple(stds))


def plot_fit(estimate: LayerSizeEstimate, path: str | Path) -> Path:
    """Save a PNG of the relative scores, the fitted curve and the estimated width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = estimate.fit
    x = np.array([1, *estimate.widths], dtype=float)
    y = np.array([1.0, *estimate.relative_scores])
    grid = np.geomspace(1, max(x.max(), fit.raw_width) * 1.2, 400)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, label="relative NEAR score")
    ax.plot(grid, power_curve(grid, fit.a, fit.b, fit.c), label="a + b n^c")
    ax.axvline(fit.raw_width, ls="--", c="k", label=f"{fit.formula} estimate: {estimate.width}")
    ax.set(xscale="log", xlabel="layer width n", ylabel="NEAR score / n")
    ax.set_title(f"{estimate.arch}, layer {estimate.layer}, t = {fit.threshold:g}")
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


@dataclass(frozen=True)
class ActivationInitScore:
    """Whole-network NEAR (mean and spread over repeats) of one (activation, init) pair."""

    activation: str
    init: str
    near_mean: float
    near_std: float


def rank_activation_init(
    data: TabularData,
    *,
    hidden: Sequence[int] = (64, 64),
    activations: Sequence[str] = tuple(ACTIVATIONS),
    inits: Sequence[str] = tuple(INITS.names()),
    repeats: int = 5,
    seed: int = 0,
) -> list[ActivationInitScore]:
    """Score every (activation, init) pair of the MLP shape ``hidden``; best first."""
    results = []
    for activation in activations:
        for init in inits:
            values = _scores(
                data, str(MLPArch(tuple(hidden), activation, init)), repeats, seed, None
            )
            results.append(
                ActivationInitScore(
                    activation, init, statistics.fmean(values), statistics.pstdev(values)
                )
            )
    return sorted(results, key=lambda r: -r.near_mean)
