"""GradAlign's two defaults on NAS-Bench-101 against trained accuracy (issue 19, held-out space).

The defaults of ``gradalign`` and ``gradalign_det`` were chosen on NAS-Bench-201
(``benchmarks/gradalign_readings.py``); NAS-Bench-101 is a held-out check of them, nothing is
tuned here. The inputs are NASLib's 500 NAS-Bench-101 entries (292 distinct cells, 108-epoch
``cifar10/val_accuracy``) and the full-size NAS-Bench-101 network (``nb101``).

``order``: write the 292 distinct cells in a seeded random order (``BenchmarkTable.sample``,
``--seed``), one per line. Score them in that order with the library, into a store (resumable;
the scores are those of ``trainfree score``/``trainfree correlate`` at the proxies' defaults)::

    python benchmarks/gradalign_nb101.py order --out runs/nb101_order_seed0.txt
    OMP_NUM_THREADS=1 nice -n 5 trainfree score nb101 --archs runs/nb101_order_seed0.txt \\
        --proxy gradalign,gradalign_det,params,flops --store runs/nb101_gradalign.sqlite

A run stopped early leaves a prefix of the order scored: a uniform random subset.

``report``: on the cells of the order whose four scores are all in the store, the metrics of
:func:`trainfree.evaluate.correlate` with bootstrap intervals (Spearman, Kendall, top-10%
precision, nDCG), each proxy's Spearman with #params, the mean Spearman with accuracy inside
``--bins`` quantile bins of #params and the partial Spearman at fixed #params (the same helpers
as the NB201 table), and the cost per cell of the shared per-sample gradient pass.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
from pathlib import Path

import numpy as np
from gradalign_readings import binned, partial_spearman, size_bins
from scipy.stats import spearmanr

from trainfree.data import default_data_dir
from trainfree.evaluate import correlate, load_benchmark
from trainfree.spaces import get_space

PROXIES = ("gradalign", "gradalign_det", "params", "flops")
TARGET = "cifar10/val_accuracy"
BENCHMARK = Path("nb101") / "naslib_zc_nasbench101.json"


def table(data_dir: Path):
    return load_benchmark(data_dir / BENCHMARK, get_space("nb101"))


def order(args: argparse.Namespace) -> None:
    bench = table(args.data_dir)
    archs = bench.sample(len(bench), seed=args.seed, target=TARGET)
    args.out.write_text("\n".join(archs) + "\n")
    print(f"{len(archs)} cells, seed {args.seed} -> {args.out}")


def stored(path: Path) -> dict[tuple[str, str], tuple[str, float | None, float | None]]:
    """``(arch, proxy) -> (status, value, seconds)`` of the nb101 rows of a store (read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT arch, proxy, status, value, seconds FROM scores WHERE space = 'nb101'"
        ).fetchall()
    finally:
        db.close()
    return {(arch, proxy): (status, value, seconds) for arch, proxy, status, value, seconds in rows}


def report(args: argparse.Namespace) -> None:
    bench = table(args.data_dir)
    scores = stored(args.store)
    archs = [a for a in args.order.read_text().split() if a]
    done = [a for a in archs if all((a, p) in scores for p in PROXIES)]
    failed = [a for a in done if any(scores[a, p][0] != "ok" for p in PROXIES)]
    cells = [a for a in done if a not in failed]
    prefix = next((i for i, a in enumerate(archs) if a not in done), len(archs))
    print(f"cells scored: {len(done)} of {len(archs)} (first {prefix} of the order complete); "
          f"failed: {len(failed)} {failed}; used n = {len(cells)}")  # fmt: skip
    acc = np.array([bench.lookup(a, TARGET) for a in cells], dtype=float)
    values = {p: np.array([scores[a, p][1] for a in cells], dtype=float) for p in PROXIES}
    size = values["params"]
    print(
        "\n| proxy | Spearman [95% CI] | Kendall [95% CI] | top-10% [95% CI] | nDCG [95% CI] "
        f"| ρ #params | partial ρ at fixed #params | ρ in {args.bins} #params bins |"
    )
    print("|---" * 8 + "|")
    for proxy in PROXIES:
        x = values[proxy]
        m = correlate(x, acc, n_boot=args.bootstrap, seed=args.seed)
        cells_ = " | ".join(
            "{:+.3f} [{:+.3f}, {:+.3f}]".format(m[k], *m[f"{k}_ci"])
            for k in ("spearman", "kendall", "top10pct_precision", "ndcg")
        )
        with_size = spearmanr(x, size).statistic
        partial = partial_spearman(x, acc, size)
        inside = binned(x, acc, size, args.bins, args.min_bin)
        extra = " | ".join("-" if math.isnan(v) else f"{v:+.3f}" for v in (partial, inside))
        print(f"| {proxy} | {cells_} | {with_size:+.3f} | {extra} |")
    between = spearmanr(values["gradalign"], values["gradalign_det"]).statistic
    print(f"\nSpearman of gradalign with gradalign_det: {between:+.3f}")
    counts = np.bincount(size_bins(size, args.bins), minlength=args.bins)
    print(f"\n#params bins (quantiles): members {counts.tolist()}; counted: >= {args.min_bin}")
    grad = np.array([scores[a, "gradalign"][2] for a in cells], dtype=float)
    print(
        f"\nper-sample gradient pass (the gradalign row; gradalign_det shares it) per cell: "
        f"median {np.median(grad):.1f} s, mean {grad.mean():.1f} s, max {grad.max():.1f} s; "
        f"#params of the cells: median {np.median(size) / 1e6:.2f}M, max {size.max() / 1e6:.2f}M"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("order", "report"))
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--seed", type=int, default=0, help="order and bootstrap seed")
    parser.add_argument("--out", type=Path, help="order: the file to write")
    parser.add_argument("--order", type=Path, help="report: the order file scored")
    parser.add_argument("--store", type=Path, help="report: the SQLite store")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--min-bin", type=int, default=10, help="smallest bin counted")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    needed = ("out",) if args.command == "order" else ("order", "store")
    if any(getattr(args, name) is None for name in needed):
        parser.error(f"{args.command} needs --" + " and --".join(needed))
    order(args) if args.command == "order" else report(args)


if __name__ == "__main__":
    main()
