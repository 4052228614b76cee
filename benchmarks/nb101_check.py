"""NAS-Bench-101 against NASLib's sample (issue 18): exact parameter counts, faithfulness of the
proxies to NASLib's own scores, and rank correlation with trained accuracy.

``--check params`` builds every entry of NASLib's ``zc_nasbench101.json`` (500 keys, 292
distinct cells) twice: in NASLib's vertex order (the network NASLib scored) and as the canonical
string (the official representative, the network NAS-Bench-101 trained), and compares the
trainable parameter count with NASLib's ``params`` (millions, 6 decimals: an exact count). The
two orders differ only in which vertex gets the extra channel of an uneven channel split, so the
canonical count may differ slightly from NASLib's; the script says how often and by how much.

``--check scores`` scores ``--proxies`` on the table's distinct cells (the first ``--n`` of a
fixed permutation, ``BenchmarkTable.sample(292, seed=0)``, so a smaller run is a prefix of a
larger one) at full size on CIFAR-10, one batch and initialisation (``--seed``; scheme ``--init``)
for all cells, and prints per proxy: the Spearman correlation with NASLib's score of the same
proxy (the mean over a cell's entries; ``-`` when NASLib has none), then Spearman, Kendall tau-b
and top-10% precision
against ``cifar10/val_accuracy`` (the mean over a cell's entries; the Spearman with a 95%
bootstrap interval), NASLib's own Spearman against it on the same cells, and the mean seconds per
cell measured in this run's workers (under load an upper bound). ``--agreement-seed S`` adds the
Spearman correlation between this run's scores and those of seed ``S`` read from the store (run
the script with ``--seed S`` first): how closely a proxy can agree with anything, NASLib's
implementation included, given its own batch-and-initialisation noise. Scores go into
``--store`` as each finishes, so an interrupted run resumes::

    OMP_NUM_THREADS=1 python benchmarks/nb101_check.py --check params
    OMP_NUM_THREADS=1 python benchmarks/nb101_check.py --check scores \\
        --proxies params,flops,synflow --n 292 --store benchmarks/results/nb101.sqlite
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from trainfree.data import default_data_dir
from trainfree.errors import TrainfreeError
from trainfree.evaluate import correlate, load_benchmark
from trainfree.run.executors import make_executor
from trainfree.run.runner import progress_printer, resolve_proxies, score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space

NASLIB_FILE = Path("nb101") / "naslib_zc_nasbench101.json"
TARGET = "cifar10/val_accuracy"
#: Published NB101 Kendall / Spearman against accuracy (InTrain's table; NEAR's paper).
PUBLISHED = {
    "near": "0.52 / 0.70",
    "intrain": "0.56 / 0.75",
    "zico": "0.46 / 0.63",
    "params": "0.31 / 0.43",
    "synflow": "0.20 / 0.29",
}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_params(path: Path) -> None:
    space = get_space("nb101")
    entries = json.loads(path.read_text())["nasbench101"]["cifar10"]
    start = time.perf_counter()
    exact = canonical_exact = 0
    largest_gap = 0
    for key, entry in entries.items():
        ours = _count(space.build(key))
        official = _count(space.build(space.canonical(key)))
        exact += round(ours / 1e6, 6) == entry["params"]
        canonical_exact += round(official / 1e6, 6) == entry["params"]
        largest_gap = max(largest_gap, abs(official - ours))
    cells = len({space.canonical(key) for key in entries})
    print("| entries | distinct cells | exact in NASLib's vertex order | exact as canonical "
          "string | largest canonical difference | seconds |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(f"| {len(entries)} | {cells} | {exact} | {canonical_exact} | {largest_gap} parameters "
          f"| {time.perf_counter() - start:.0f} |")  # fmt: skip
    if exact != len(entries):
        sys.exit(f"error: {len(entries) - exact} entries differ from NASLib's params")


def _spearman(scores: np.ndarray, other: np.ndarray) -> str:
    try:
        return f"{correlate(scores, other)['spearman']:.3f}"
    except TrainfreeError:
        return "-"


def check_scores(args: argparse.Namespace, path: Path) -> None:
    space = get_space("nb101")
    table = load_benchmark(path, space)
    archs = table.sample(len(table), seed=0)[: args.n]
    proxies = resolve_proxies(args.proxies)
    config = ScoreConfig(dataset="cifar10", data_dir=args.data_dir, seed=args.seed, init=args.init)
    executor = make_executor("local", workers=args.workers)
    total = len(archs) * len(proxies)
    args.store.parent.mkdir(parents=True, exist_ok=True)
    with ResultStore(args.store) as store:
        report = score_many(
            "nb101", archs, proxies, config, store=store, executor=executor,
            progress=progress_printer(total, label="nb101: "),
        )  # fmt: skip
    executor.close()
    for failure in report.failures:
        print(f"  failed {failure.proxy} on {failure.task.arch}: {failure.error}", file=sys.stderr)
    other = None
    if args.agreement_seed is not None:
        with ResultStore(args.store) as store:
            other = score_many(
                "nb101", archs, proxies, replace(config, seed=args.agreement_seed), store=store
            )
    truth = np.array([table.lookup(a, TARGET) for a in archs], dtype=float)
    print(f"\n{len(archs)} distinct NB101 cells of {path.name} ({sum(table.counts)} entries), "
          f"CIFAR-10, seed {args.seed}, init {args.init or 'each proxy default'}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, "
          f"{datetime.date.today()}\n")  # fmt: skip
    print("| proxy | Spearman vs NASLib's score | seed agreement | Spearman [95% CI] | Kendall "
          "| top-10% | NASLib's Spearman | published K / S | s/cell | n |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for proxy in proxies:
        name = proxy.name
        ours = report.values(name, archs)
        field = f"cifar10/{name}"
        theirs = (
            np.array([table.lookup(a, field) for a in archs], dtype=float)
            if field in table.targets()
            else None
        )
        try:
            stats = correlate(ours, truth, higher_is_better=proxy.higher_is_better, n_boot=1000)
        except TrainfreeError as exc:
            print(f"| {name} | - | - | - | - | - | - | - | - | 0 ({exc}) |")
            continue
        naslib = _spearman(ours, theirs) if theirs is not None else "-"
        own = _spearman(theirs, truth) if theirs is not None else "-"
        agreement = _spearman(ours, other.values(name, archs)) if other is not None else "-"
        low, high = stats["spearman_ci"]
        print(
            f"| {name} | {naslib} | {agreement} | {stats['spearman']:.3f} [{low:.2f}, {high:.2f}] "
            f"| {stats['kendall']:.3f} | {stats['top10pct_precision']:.2f} | {own} | "
            f"{PUBLISHED.get(name, '-')} | {report.seconds_per_arch(proxy):.2f} | {stats['n']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", choices=("params", "scores"), required=True)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--proxies", default="params,flops")
    parser.add_argument("--n", type=int, default=292)
    parser.add_argument("--seed", type=int, default=0, help="batch and initialisation seed")
    parser.add_argument("--agreement-seed", type=int)
    parser.add_argument(
        "--init",
        help="initialisation for every proxy (default: each proxy's own); NASLib scored NB101 "
        "networks as nasbench_pytorch initialises them, whose convolutions are "
        "kaiming_normal_fan_out",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--store", type=Path, default=Path("benchmarks/results/nb101.sqlite"))
    args = parser.parse_args()
    if args.data_dir is None:
        sys.exit("error: set --data-dir or TRAINFREE_DATA")
    path = args.data_dir / NASLIB_FILE
    if args.check == "params":
        check_params(path)
    else:
        check_scores(args, path)


if __name__ == "__main__":
    main()
