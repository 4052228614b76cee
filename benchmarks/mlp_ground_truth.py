"""Ground truth for NEAR on MLPs: train a grid of MLPs on scikit-learn's bundled datasets and check
how well training-free scores predict the trained accuracy (issue 7).

Grids (identical on every dataset):

* width/depth: one hidden layer of width 10 * 2**i (i < 8, the official NEAR sizing example) and
  two or three equal hidden layers of width 10..320; ReLU, PyTorch default init;
* activation/init: hidden (64, 64) with every activation of the MLP space x every init scheme.

Training (CPU): Adam (lr 1e-3, fused), mini-batches of 64 drawn epoch by epoch, a fixed budget of
optimisation steps (600 by default, the same on every dataset), cross-entropy; the target is the
accuracy on the held-out 25% stratified test split (seed 0) after the last step (no early
stopping), averaged over the training seeds.

Scores: every registered proxy that runs on an MLP of tabular inputs (those that raise are stored
as failures and left out of the tables), the mean over ``--repeats`` initialisations with the
MLP's own init. Each proxy gets its own default batch size of training rows (Gaussian rows for
synthetic-data proxies, one all-ones row for data-free ones), except NEAR, which sees every
training row (its matrices need at least as many rows as the layer is wide). TE-NAS's
linear-region count (``tenas_lr``) runs with ``spatial_only=False`` (it hooks only convolutional
ReLUs by default); each proxy's options fingerprint is part of its store key, as in
``trainfree score``'s store. Networks and batches come from ``trainfree.run.scoring``'s
``build_network`` and ``trainfree.data.make_batch``, the path ``trainfree score`` uses.

Everything goes into one SQLite result store, so a re-run only computes what is missing: proxy
scores under their names, trained accuracies under ``trained_accuracy@<recipe>`` with the
training seed and batch size as the row's seed and batch size. Work runs in ``--workers``
processes of one thread each (2 by default, for 2 cores).

Run from the repository root::

    python benchmarks/mlp_ground_truth.py --store mlp_ground_truth.sqlite

It prints a markdown section for BENCHMARKS.md on stdout and progress on stderr.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import cache, partial
from types import MappingProxyType

import numpy as np
import torch
from torch import nn

from trainfree.data import Batch, TabularData, load_tabular, make_batch
from trainfree.errors import TrainfreeError
from trainfree.evaluate.correlation import spearman
from trainfree.init import INITS
from trainfree.proxies import PROXIES, compute_proxy
from trainfree.proxies.base import ProxySpec
from trainfree.run.scoring import (
    DEFAULT_BATCH_SIZE,
    ResolvedConfig,
    ScoreResult,
    build_network,
)
from trainfree.run.store import ResultStore
from trainfree.sizing import (
    DEFAULT_THRESHOLD,
    DEFAULT_WIDTHS,
    estimate_layer_size,
    fit_relative_scores,
)
from trainfree.spaces.mlp import ACTIVATIONS, MLPArch, MLPSpace

SPACE = MLPSpace()
DATASETS = ("digits", "breast_cancer", "wine")
ACT_INIT_SHAPE = (64, 64)
# Proxy options an MLP needs: TE-NAS's region count hooks only convolutional ReLUs by default.
PROXY_PARAMS: dict[str, dict] = {"tenas_lr": {"spatial_only": False}}


def mlp_proxy(name: str) -> ProxySpec:
    """The registered proxy ``name`` with the options of :data:`PROXY_PARAMS` applied: its
    fingerprint, part of every store key, records them."""
    spec = PROXIES.get(name)
    options = PROXY_PARAMS.get(name, {})
    return replace(spec, params=MappingProxyType({**spec.params, **options}))


@dataclass(frozen=True)
class Recipe:
    """How the ground-truth networks are trained."""

    steps: int = 600
    batch_size: int = 64
    lr: float = 1e-3

    @property
    def name(self) -> str:
        return f"trained_accuracy@adam-lr{self.lr:g}-b{self.batch_size}-steps{self.steps}"


def width_grid() -> list[str]:
    deep = [w for w in DEFAULT_WIDTHS if w <= 320]
    shapes = [(w,) for w in DEFAULT_WIDTHS] + [(w,) * d for d in (2, 3) for w in deep]
    return [str(MLPArch(s, "relu", "default")) for s in shapes]


def act_init_grid() -> list[str]:
    return [str(MLPArch(ACT_INIT_SHAPE, a, i)) for a in ACTIVATIONS for i in INITS.names()]


@cache
def dataset(name: str) -> TabularData:
    return load_tabular(name, seed=0)


# ----------------------------------------------------------------------------- work items


def train_accuracy(arch: str, data: TabularData, seed: int, recipe: Recipe) -> float:
    """Test accuracy of ``arch`` after ``recipe.steps`` Adam steps from seed ``seed``."""
    train = Batch(data.x_train, data.y_train, data.num_classes)
    model, _ = build_network(partial(SPACE.build, arch), train, seed=seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr, fused=True)
    gen = torch.Generator().manual_seed(seed)
    n, step = len(data.y_train), 0
    model.train()
    while step < recipe.steps:
        for idx in torch.randperm(n, generator=gen).split(recipe.batch_size):
            loss = nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if step == recipe.steps:
                break
    model.eval()
    with torch.no_grad():
        predicted = model(data.x_test).argmax(dim=1)
    return float((predicted == data.y_test).float().mean())


def proxy_rows(spec: ProxySpec, data: TabularData) -> int:
    """How many rows ``spec`` sees: every training row for NEAR (its matrices need at least as
    many rows as the layer is wide), else its default batch size, at most every training row."""
    rows = len(data.y_train)
    return rows if spec.name == "near" else min(spec.batch_size or DEFAULT_BATCH_SIZE, rows)


def proxy_values(spec: ProxySpec, arch: str, data: TabularData, repeats: int) -> list[float]:
    """``spec`` on ``arch`` for seeds 0..repeats-1 (weights and batch), as ``score_arch`` does,
    but with the MLP's own init."""
    values = []
    for seed in range(repeats):
        batch = make_batch(data, batch_size=proxy_rows(spec, data), seed=seed, mode=spec.data_mode)
        model, batch = build_network(partial(SPACE.build, arch), batch, seed=seed, dtype=spec.dtype)
        values.append(compute_proxy(spec, model, batch))
    return values


@dataclass(frozen=True)
class Job:
    """One stored value to compute: a trained accuracy (one seed) or a proxy score."""

    dataset: str
    arch: str
    name: str
    config: ResolvedConfig
    recipe: Recipe | None = None  # set for training jobs

    def run(self) -> tuple[Job, list[float] | None, str | None, float]:
        """(job, values, error, seconds); any exception is a recorded failure, not a crash."""
        start = time.perf_counter()
        data = dataset(self.dataset)
        try:
            if self.recipe is not None:
                values = [train_accuracy(self.arch, data, self.config.seed, self.recipe)]
            else:
                values = proxy_values(mlp_proxy(self.name), self.arch, data, self.config.repeats)
        except Exception as exc:  # a proxy that cannot handle MLPs is skipped
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return self, None, error, time.perf_counter() - start
        return self, values, None, time.perf_counter() - start


def _config(
    data: TabularData, arch: str, batch_size: int, seed: int, repeats: int, params: str = "{}"
) -> ResolvedConfig:
    init = arch.rsplit("|", 1)[1]
    return ResolvedConfig(
        data.name, batch_size, None, data.num_classes, init, seed, repeats, params
    )


def jobs(archs: Sequence[str], specs, seeds: int, repeats: int, recipe: Recipe) -> list[Job]:
    out = []
    for d in DATASETS:
        data = dataset(d)
        for arch in archs:
            for seed in range(seeds):
                config = _config(data, arch, recipe.batch_size, seed, 1)
                out.append(Job(d, arch, recipe.name, config, recipe))
            for spec in specs:
                rows = len(data.y_train) if spec.name == "near" else spec.batch_size or 0
                config = _config(data, arch, rows, 0, repeats, spec.fingerprint())
                out.append(Job(d, arch, spec.name, config))
    return out


def _worker_init() -> None:
    torch.set_num_threads(1)


def run_jobs(store: ResultStore, todo: Iterable[Job], workers: int) -> int:
    """Compute the jobs missing or failed in ``store`` in ``workers`` processes; return how many
    ran (failures are retried: they are cheap, and a fixed proxy should get its chance)."""
    rows = ((j, store.get(SPACE.name, j.arch, j.name, j.config)) for j in todo)
    missing = [j for j, row in rows if row is None or row.status != "ok"]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        for i, (job, values, error, seconds) in enumerate(
            pool.map(Job.run, missing, chunksize=8), 1
        ):
            if values is None:
                store.put_failure(SPACE.name, job.arch, job.name, job.config, error, seconds)
            else:
                mean, std = statistics.fmean(values), statistics.pstdev(values)
                result = ScoreResult(
                    job.arch, job.name, mean, std, seconds, job.config, tuple(values)
                )
                store.put(SPACE.name, result)
            if i % 200 == 0:
                print(f"  {i}/{len(missing)} computed", file=sys.stderr)
    return len(missing)


def collect(store: ResultStore, todo: Iterable[Job]) -> dict[tuple[str, str, str], float]:
    """(dataset, name, arch) -> value averaged over training seeds; NaN where a job failed."""
    grouped: dict[tuple[str, str, str], list[float]] = {}
    for job in todo:
        row = store.get(SPACE.name, job.arch, job.name, job.config)
        value = row.value if row is not None and row.status == "ok" else math.nan
        grouped.setdefault((job.dataset, job.name, job.arch), []).append(value)
    return {key: statistics.fmean(v) for key, v in grouped.items()}


# ----------------------------------------------------------------------------- report


def _rho(spec: ProxySpec, scores: Sequence[float], accs: Sequence[float]) -> str:
    x = np.asarray(scores) * (1.0 if spec.higher_is_better else -1.0)
    n = int(np.isfinite(x).sum())
    if n < 3:
        return "-"
    if np.ptp(x[np.isfinite(x)]) == 0:
        return "const"
    return f"{spearman(x, accs):+.3f}" + ("" if n == len(x) else f" (n={n})")


def correlation_table(title: str, archs, specs, values, target: str) -> list[str]:
    lines = [f"#### {title} ({len(archs)} MLPs)", "", "| proxy | " + " | ".join(DATASETS) + " |"]
    lines.append("|---" * (len(DATASETS) + 1) + "|")
    for spec in specs:
        cells = [
            _rho(
                spec,
                [values[d, spec.name, a] for a in archs],
                [values[d, target, a] for a in archs],
            )
            for d in DATASETS
        ]
        lines.append(f"| {spec.name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _nearest(width: float, grid: Sequence[int]) -> int:
    return min(grid, key=lambda w: abs(math.log(w / width)))


def sizing_rows(values, target: str, repeats: int) -> list[str]:
    lines = [
        "| dataset | training rows | NEAR width (published) | NEAR width (exact) | fit c "
        "| best trained width | its accuracy | accuracy at the grid width nearest the published "
        "estimate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in DATASETS:
        acc = {w: values[d, target, str(MLPArch((w,), "relu", "default"))] for w in DEFAULT_WIDTHS}
        best = max(acc, key=acc.get)
        try:
            est = estimate_layer_size(dataset(d), repeats=repeats)
            exact = fit_relative_scores(est.widths, est.relative_scores, formula="exact").width
            cells = f"{est.width} | {exact} | {est.fit.c:.3f}"
            at_estimate = f"{acc[_nearest(est.fit.raw_width, DEFAULT_WIDTHS)]:.4f}"
        except TrainfreeError as exc:
            cells, at_estimate = f"failed: {exc} | - | -", "-"
        rows = len(dataset(d).y_train)
        lines.append(f"| {d} | {rows} | {cells} | {best} | {acc[best]:.4f} | {at_estimate} |")
    return [*lines, ""]


def _pair(arch: str) -> str:
    return "/".join(arch.split("|")[1:])


def act_init_rows(values, target: str) -> list[str]:
    archs = act_init_grid()
    lines = [
        f"| dataset | Spearman | NEAR's top pick | its trained rank (of {len(archs)}) "
        "| in trained top 3 | trained best | pairs tied at the best | mean trained rank of NEAR's "
        "worst 5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in DATASETS:
        acc = {a: values[d, target, a] for a in archs}
        near = {a: values[d, "near", a] for a in archs if math.isfinite(values[d, "near", a])}
        rank = {a: 1 + sum(v > acc[a] for v in acc.values()) for a in archs}
        by_near = sorted(near, key=lambda a: -near[a])
        top, best = by_near[0], min(archs, key=rank.get)
        rho = spearman([near[a] for a in by_near], [acc[a] for a in by_near])
        worst5 = statistics.fmean(rank[a] for a in by_near[-5:])
        lines.append(
            f"| {d} | {rho:+.3f} | {_pair(top)} ({acc[top]:.4f}) | {rank[top]} "
            f"| {'yes' if rank[top] <= 3 else 'no'} | {_pair(best)} ({acc[best]:.4f}) "
            f"| {sum(r == 1 for r in rank.values())} | {worst5:.1f} |"
        )
    return [*lines, ""]


def report(values, specs, args, recipe: Recipe, counts: tuple[int, int], minutes: float):
    archs = list(dict.fromkeys(width_grid() + act_init_grid()))
    target = recipe.name
    ran, total = counts
    command = " ".join(["python benchmarks/mlp_ground_truth.py", *sys.argv[1:]])
    has_near = any(s.name == "near" for s in specs)
    return [
        "### NEAR on MLPs: trained ground truth (scikit-learn digits, breast_cancer, wine)",
        "",
        f"Command: `{command}` (this run computed {ran} of {total} stored values in "
        f"{minutes:.1f} min with {args.workers} single-thread workers; the rest came from the "
        "store).",
        f"Training: Adam lr {recipe.lr:g}, batch {recipe.batch_size}, {recipe.steps} steps; test "
        f"accuracy on the 25% stratified split (seed 0), mean of {args.seeds} training seeds. "
        f"Proxies: mean of {args.repeats} initialisations, each MLP with its own init "
        "(tenas_lr with `spatial_only=False`).",
        "",
        "Spearman ρ of each proxy (oriented so that higher predicts better) with trained test "
        "accuracy; `(n=...)` where the proxy failed on some MLPs, `-` where it ran on fewer "
        "than 3, `const` where it gave one value for every MLP. Proxies that failed on every MLP "
        "are left out.",
        "",
        *correlation_table("All MLPs", archs, specs, values, target),
        *correlation_table(
            "Width/depth grid (ReLU, default init)", width_grid(), specs, values, target
        ),
        *correlation_table(
            f"Activation x init grid, hidden {ACT_INIT_SHAPE}",
            act_init_grid(),
            specs,
            values,
            target,
        ),
        "#### Layer size: NEAR estimate vs best trained width (one hidden layer, ReLU, default "
        f"init, widths {list(DEFAULT_WIDTHS)}, t = {DEFAULT_THRESHOLD}, {args.size_repeats} "
        "repeats)",
        "",
        *sizing_rows(values, target, args.size_repeats),
        "#### Activation/init choice by NEAR vs the trained ranking",
        "",
        *(act_init_rows(values, target) if has_near else ["(NEAR failed on every MLP)", ""]),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="mlp_ground_truth.sqlite")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per MLP")
    parser.add_argument("--steps", type=int, default=Recipe.steps, help="Adam steps per MLP")
    parser.add_argument("--repeats", type=int, default=3, help="initialisations per proxy score")
    parser.add_argument("--size-repeats", type=int, default=5, help="repeats of layer sizing")
    parser.add_argument("--proxies", default="all", help="comma-separated proxy names or all")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    recipe = Recipe(steps=args.steps)
    names = PROXIES.names() if args.proxies == "all" else args.proxies.split(",")
    specs = [mlp_proxy(n) for n in names]
    archs = list(dict.fromkeys(width_grid() + act_init_grid()))
    todo = jobs(archs, specs, args.seeds, args.repeats, recipe)
    with ResultStore(args.store) as store:
        ran = run_jobs(store, todo, args.workers)
        print(f"computed {ran} of {len(todo)} values", file=sys.stderr)
        values = collect(store, todo)
    specs = [
        s for s in specs
        if any(math.isfinite(values[d, s.name, a]) for d in DATASETS for a in archs)
    ]  # fmt: skip
    minutes = (time.perf_counter() - start) / 60
    print("\n".join(report(values, specs, args, recipe, (ran, len(todo)), minutes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
