"""Rank correlation of proxies with NAS-Bench-201 accuracies or with NASLib's own proxy scores.

Two protocols, one script (issues 2, 3 and 4):

* ``--against accuracy`` (default): the fixed 1000-architecture sample of ``nb201_accuracy.csv``
  (``BenchmarkTable.sample(1000, seed=0)``; ``--n`` takes its first ``n``, so a smaller run is a
  prefix of the full one and a store grows towards it). Each ``--targets`` column is paired with
  the dataset it was trained on (``cifar10_*`` -> CIFAR-10 images and 10 classes,
  ``cifar100_*`` -> CIFAR-100 and 100 classes), so every score is computed on the data of the
  accuracy it is compared with (``--dataset synthetic`` scores on Gaussian inputs instead, with
  the target's class count: the data-free setting of ``trainfree demo``).
* ``--against naslib``: the 725 architectures of NASLib's ``zc_nasbench201.json``; each proxy is
  compared with NASLib's precomputed score of the same proxy (``nwot`` for ``naswot``) on
  ``cifar10`` and/or ``cifar100`` (``--targets cifar10,cifar100``); ``--n`` takes the first ``n``
  of a seeded permutation of them. Two more columns give the Kendall tau of NASLib's score and of
  ours against ``<dataset>_test_200ep`` of ``nb201_accuracy.csv`` on the same architectures: how
  well each implementation predicts trained accuracy, beside a paper's published figure.

Scores go into a SQLite store (``--store``), written as each finishes, so an interrupted run
resumes; ``--results FILE.csv.gz`` seeds the store from an exported copy and writes it back at
the end, so a 1000-architecture table can grow over several machines and sessions (the copy is
data: keep it outside the repository; ``benchmarks/results/`` is git-ignored). ``--workers``
processes share the cores. ``--agreement-seed S`` also scores every single proxy with seed
``S`` (another initialisation and batch) and adds the Spearman correlation between the two
seeds' scores: the agreement with anything that the proxy's own noise allows.
``--batch-per-arch`` gives every architecture its own seed (``seed + 1000 i`` for the ``i``-th),
hence its own batch and initialisation, as NASLib's zero-cost predictor drew a fresh batch for
each architecture it scored; without it one seed serves all architectures. The
output is a Markdown table per target: Spearman, Kendall tau-b, top-10% precision (fraction of
the proxy's top 10% among the target's top 10%), and mean seconds per architecture as measured
*in this run's workers* (under load they are upper bounds; ``benchmarks/speed.py`` measures cost
on a quiet machine).

Run from the repository root, e.g.::

    python benchmarks/correlation.py --proxies naswot,synflow --n 500 \\
        --targets cifar10_test_200ep --store runs/nb201.sqlite
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from trainfree.data import default_data_dir
from trainfree.errors import TrainfreeError
from trainfree.evaluate import correlate, load_benchmark
from trainfree.run.executors import make_executor
from trainfree.run.runner import (
    RunReport,
    component_names,
    progress_printer,
    resolve_proxies,
    score_many,
)
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space

NASLIB_NAMES = {"naswot": "nwot"}
#: Published NB201 figures, Kendall / Spearman, per (proxy, dataset) (specs/methods.md 2.5 and 3.6:
#: NEAR's and InTrain's papers; InTrain's ablation does not name its dataset, shown for CIFAR-10).
PUBLISHED = {
    ("near", "cifar10"): "0.70 / 0.88",
    ("near", "cifar100"): "0.69 / 0.87",
    ("intrain", "cifar10"): "0.669 / 0.86",
    ("intrain", "cifar100"): "0.671 / -",
    ("intrain_pr", "cifar10"): "0.61 / 0.82 (ablation)",
    ("intrain_grad", "cifar10"): "0.63 / 0.83 (ablation)",
    ("synflow", "cifar10"): "0.561 / -",
    ("synflow", "cifar100"): "0.553 / -",
    ("zico", "cifar10"): "0.607 / -",
    ("zico", "cifar100"): "0.614 / -",
    ("jacov", "cifar10"): "0.616 / -",
    ("jacov", "cifar100"): "0.639 / -",
}
FIXED_SAMPLE = 1000
PER_ARCH_STRIDE = 1000  # --batch-per-arch: architecture i gets seed + 1000 i


def _dataset_of(target: str) -> str:
    """``cifar100_test_200ep`` -> ``cifar100``; ``cifar10/val_accuracy`` -> ``cifar10``."""
    head = target.split("/")[0].split("_")[0]
    if head not in {"cifar10", "cifar100"}:
        raise SystemExit(f"error: cannot tell the dataset of target {target!r}")
    return head


def _score(
    args: argparse.Namespace,
    archs: list[str],
    proxies: list,
    dataset: str,
    classes: int | None,
    seed: int,
) -> RunReport:
    config = ScoreConfig(dataset=dataset, data_dir=args.data_dir, seed=seed, num_classes=classes)
    seeds = [seed + PER_ARCH_STRIDE * i for i in range(len(archs))] if args.batch_per_arch else []
    executor = make_executor("local", workers=args.workers)
    total = len(archs) * len(component_names(proxies))
    progress = progress_printer(total, label=f"{dataset}: ")

    with ResultStore(args.store) as store:
        if seeds:  # NASLib's protocol: each architecture its own batch and initialisation
            report = RunReport()
            for arch, own in zip(archs, seeds, strict=True):
                one = score_many("nb201", [arch], proxies, replace(config, seed=own),
                                 store=store, executor=executor, progress=progress)  # fmt: skip
                report.results += one.results
                report.failures += one.failures
        else:
            report = score_many(
                "nb201", archs, proxies, config, store=store, executor=executor, progress=progress
            )
    executor.close()
    for failure in report.failures:
        print(f"  failed {failure.proxy} on {failure.task.arch}: {failure.error}",
              file=sys.stderr)  # fmt: skip
    return report


def _row(
    name: str,
    report: RunReport,
    archs: list[str],
    truth: np.ndarray,
    proxy,
    other: RunReport | None = None,
) -> str:
    try:
        values = report.values(name, archs)
        stats = correlate(values, truth, higher_is_better=proxy.higher_is_better)
    except TrainfreeError as exc:  # e.g. the proxy failed on every architecture
        return f"| {name} | - | - | - | - | 0 ({exc}) |" + (" - |" if other is not None else "")
    seconds = report.seconds_per_arch(proxy)
    row = (
        f"| {name} | {stats['spearman']:.3f} | {stats['kendall']:.3f} | "
        f"{stats['top10pct_precision']:.2f} | {seconds:.2f} | {stats['n']} |"
    )
    if other is not None:
        try:
            agreement = correlate(report.values(name, archs), other.values(name, archs))
            row += f" {agreement['spearman']:.3f} |"
        except TrainfreeError:
            row += " - |"
    return row


def _accuracy_kendalls(
    name: str, report: RunReport, archs: list[str], theirs: np.ndarray, accuracy: np.ndarray, proxy
) -> str:
    """`` NASLib's | ours |`` Kendall tau against trained accuracy (NASLib's protocol only)."""
    cells = []
    for scores in (theirs, report.values(name, archs)):
        try:
            tau = correlate(scores, accuracy, higher_is_better=proxy.higher_is_better)["kendall"]
            cells.append(f"{tau:.3f}")
        except TrainfreeError:
            cells.append("-")
    return f" {cells[0]} | {cells[1]} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", choices=("accuracy", "naslib"), default="accuracy")
    parser.add_argument("--proxies", required=True, help="comma-separated names or ensembles")
    parser.add_argument("--targets", default="cifar10_test_200ep,cifar100_test_200ep")
    parser.add_argument("--n", type=int, default=FIXED_SAMPLE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument(
        "--results",
        type=Path,
        help="CSV(.gz) of scores: read into --store first, written back from it at the end, so "
        "a table grows across machines (a data file: keep it outside the repository)",
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--dataset", help="score on this dataset (e.g. synthetic) for every target")
    parser.add_argument(
        "--batch-per-arch",
        action="store_true",
        help="score architecture i with seed + 1000 i (its own batch and init, as NASLib did) "
        "instead of one seed for all",
    )
    parser.add_argument(
        "--agreement-seed",
        type=int,
        help="also score with this seed (other init and batch) and add each proxy's Spearman "
        "between the two seeds: the agreement its own noise allows",
    )
    args = parser.parse_args()
    if args.data_dir is None:
        raise SystemExit("error: no data folder: set TRAINFREE_DATA or pass --data-dir")
    args.store.parent.mkdir(parents=True, exist_ok=True)
    if args.results is not None and args.results.exists():
        with ResultStore(args.store) as store:
            added = store.import_csv(args.results)
        print(f"  {added} scores read from {args.results}", file=sys.stderr)
    space = get_space("nb201")
    nb201 = args.data_dir / "nb201"
    trained = load_benchmark(nb201 / "nb201_accuracy.csv", space)
    proxies = resolve_proxies(args.proxies)
    command = " ".join(["python", *sys.argv])
    print(f"Command: `{command}`  ")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.workers} worker(s); date {datetime.date.today()}\n")  # fmt: skip
    for target in args.targets.split(","):
        dataset = args.dataset or _dataset_of(target)
        classes = (100 if _dataset_of(target) == "cifar100" else 10) if args.dataset else None
        if args.against == "naslib":
            table = load_benchmark(nb201 / "naslib_zc_nasbench201.json", space)
            archs = table.sample(len(table), seed=args.seed)[: args.n]
        else:
            table = trained
            archs = table.sample(FIXED_SAMPLE, seed=args.seed)[: args.n]
        report = _score(args, archs, proxies, dataset, classes, args.seed)
        other = None
        if args.agreement_seed is not None:
            singles = [p for p in proxies if not p.is_ensemble]
            other = _score(args, archs, singles, dataset, classes, args.agreement_seed)
        index = {a: i for i, a in enumerate(table.archs)}
        title = "NASLib's own score" if args.against == "naslib" else target
        print(f"### nb201, {len(archs)} architectures, {dataset} data, vs {title}\n")
        extra = f" Spearman seed {args.seed} vs {args.agreement_seed} |" if other else ""
        published = args.against == "accuracy"
        if published:
            extra += " published Kendall / Spearman |"
        else:
            test = f"{dataset}_test_200ep"
            accuracy = np.array([trained.lookup(a, test) for a in archs], dtype=float)
            extra += f" Kendall vs {test}: NASLib's | ours |"
        print("| proxy | Spearman | Kendall | top-10% precision | s/arch | n |" + extra)
        print("|---|---|---|---|---|---|" + "---|" * extra.count("|"))
        for proxy in proxies:
            name = proxy.name
            column = (
                f"{target}/{NASLIB_NAMES.get(name, name)}" if args.against == "naslib" else target
            )
            try:
                values = table.values(column)
            except TrainfreeError as exc:  # a proxy NASLib does not score
                print(f"| {name} | - | - | - | - | ({exc}) |")
                continue
            truth = np.array([values[index[a]] for a in archs], dtype=float)
            row = _row(name, report, archs, truth, proxy, other)
            if published:
                row += f" {PUBLISHED.get((name, dataset), '-')} |"
            else:
                row += _accuracy_kendalls(name, report, archs, truth, accuracy, proxy)
            print(row)
        print()
    if args.results is not None:
        with ResultStore(args.store) as store:
            count = store.export_csv(args.results)
        print(f"  {count} scores written to {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
