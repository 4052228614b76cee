"""Every GradAlign reading on the fixed 1000-architecture NAS-Bench-201 sample (issue 19).

``measure``: per (architecture, dataset) the per-sample gradient blocks are computed once, on the
batch of 128 that the library's protocol draws (:func:`trainfree.run.scoring.prepare`, seed 0,
``gradalign``'s init and layout); the batch of 64 is its first 64 images (``make_batch`` draws
a seeded permutation and keeps its head, the initialisation does not depend on the batch size,
and ``vmap`` gives each sample's gradient alone), so both batch sizes come from one gradient
computation. Every reading of :mod:`trainfree.proxies.gradalign` is evaluated from the
per-tensor Gram matrices, for each convolution/linear weight on its own and for the joined
gradients (weights only, all parameters), and appended to a JSONL file (one line per
architecture and dataset; a rerun skips what is there, so it resumes).

``--space nb101`` measures and reports NASLib's 292 NAS-Bench-101 cells instead (full-size
network, CIFAR-10, target ``cifar10/val_accuracy``; ``--datasets cifar10``), in the order of
``gradalign_nb101.py order``.

``report``: Spearman of every reading with the 200-epoch test accuracy on a selection prefix
(``--select``, default the first 200 architectures) and on the rest, per dataset, with
#params and FLOPs, the Spearman of each reading with #params and the mean Spearman with accuracy
inside #params bins (``--bins`` quantile bins). The per-layer readings are the mean over the
layers whose gradient is not zero everywhere (:func:`trainfree.proxies.gradalign._read`).

Run from the repository root::

    OMP_NUM_THREADS=1 nice -n 10 nohup python benchmarks/gradalign_readings.py measure \\
        --dataset cifar10 --out benchmarks/results/gradalign_readings.jsonl &
    python benchmarks/gradalign_readings.py report --out benchmarks/results/gradalign_readings.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.data import default_data_dir
from trainfree.evaluate import load_benchmark
from trainfree.proxies import get_proxy
from trainfree.proxies.flops import flops
from trainfree.proxies.gradalign import (
    alignment,
    full_gram,
    log_det,
    sample_grad_blocks,
    weight_names,
)
from trainfree.run.scoring import ScoreConfig, prepare
from trainfree.spaces import get_space

BATCHES = (64, 128)
EPS = 1e-6
ALIGN = {
    "share_raw": ("conflict_share", "raw"),
    "share_unit": ("conflict_share", "unit"),
    "cos_raw": ("mean_cos", "raw"),
    "cos_unit": ("mean_cos", "unit"),
    "coherence": ("coherence", "raw"),
    "offdiag": ("offdiag_cos", "raw"),
    "pairs": ("conflict_frac", "raw"),
}
DET = {
    "logdet_eps": ("logdet", "eps"),
    "logdet_drop": ("logdet", "drop"),
    "logmin_eps": ("logmin", "eps"),
    "logmin_drop": ("logmin", "drop"),
}
READINGS = (*ALIGN, *DET)
TARGET = "{}_test_200ep"
NB101_TARGET = "cifar10/val_accuracy"


def readings(gram) -> dict[str, float] | None:
    """Every reading of one Gram matrix, ``None`` when no sample has a gradient there."""
    if not bool((gram.diagonal() > 0).any()):
        return None
    values = {key: alignment(gram, *args) for key, args in ALIGN.items()}
    values.update({key: log_det(gram, EPS, *args) for key, args in DET.items()})
    return values


def _round(value: float) -> float:
    return float(f"{value:.7g}")


def measure_one(space, arch: str, dataset: str, data_dir, batches: list[int]) -> dict:
    start = time.perf_counter()
    config = ScoreConfig(dataset=dataset, data_dir=data_dir, batch_size=max(batches))
    model, batch = prepare(space, arch, get_proxy("gradalign"), config)
    model.train()
    blocks = sample_grad_blocks(model, batch)
    weights = weight_names(model)
    grams = {name: full_gram(block) for name, block in blocks.items()}
    grad_seconds = time.perf_counter() - start
    record: dict = {"arch": arch, "dataset": dataset, "layers": weights}
    for size in batches:
        sub = {name: g[:size, :size] for name, g in grams.items()}
        per_layer = [readings(sub[name]) for name in weights]
        record[str(size)] = {
            "layer": {
                key: [None if r is None else _round(r[key]) for r in per_layer] for key in READINGS
            },
            "network_weights": readings(sum(sub[name] for name in weights)),
            "network_all": readings(sum(sub.values())),
        }
    record["params"] = sum(p.numel() for p in model.parameters())
    model.eval()
    record["flops"] = flops(model, batch)
    record["grad_seconds"] = round(grad_seconds, 3)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def done(out: Path) -> set[tuple[str, str]]:
    if not out.exists():
        return set()
    keys = set()
    for line in out.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            keys.add((row["arch"], row["dataset"]))
    return keys


def sample(args: argparse.Namespace):
    """The space, its accuracy table and the fixed sample in order (NB201: the 1000-architecture
    sample; NB101: NASLib's 292 distinct cells in the order of ``gradalign_nb101.py order``)."""
    space = get_space(args.space)
    if args.space == "nb101":
        table = load_benchmark(args.data_dir / "nb101" / "naslib_zc_nasbench101.json", space)
        return space, table, table.sample(len(table), seed=0)
    table = load_benchmark(args.data_dir / "nb201" / "nb201_accuracy.csv", space)
    archs = table.sample(1000, seed=0, target=TARGET.format("cifar10"))
    return space, table, archs


def target(args: argparse.Namespace, dataset: str) -> str:
    return NB101_TARGET if args.space == "nb101" else TARGET.format(dataset)


def measure(args: argparse.Namespace) -> None:
    space, _, archs = sample(args)
    archs = archs[args.start : args.stop]
    (out,) = args.out
    have = done(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for i, arch in enumerate(archs):
        if (arch, args.dataset) in have:
            continue
        record = measure_one(space, arch, args.dataset, args.data_dir, args.batches)
        with out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"{args.start + i} {args.dataset} {record['seconds']:.1f}s", flush=True)


def layer_mean(values: list[float | None], floor: float) -> float:
    live = [v for v in values if v is not None]
    return math.fsum(live) / len(live) if live else floor


def _floor(key: str, size: int) -> float:
    """What a network without any live tensor scores (the proxies' floor)."""
    if key in ALIGN:
        return 0.0
    return (size if key.startswith("logdet") else 1) * math.log(EPS)


def reading_values(rows: list[dict], size: int) -> dict[str, np.ndarray]:
    """Per reading name ``<scope>/<reading>``, its value on each row (NaN where undefined)."""
    out: dict[str, list[float]] = {}
    for row in rows:
        block = row[str(size)]
        for key in READINGS:
            floor = _floor(key, size)
            out.setdefault(f"layer/{key}", []).append(layer_mean(block["layer"][key], floor))
            for scope in ("network_weights", "network_all"):
                values = block[scope]
                empty = 0.0 if key.endswith("drop") else floor  # the proxies' empty-matrix value
                value = values[key] if values is not None else empty
                out.setdefault(f"{scope}/{key}", []).append(value)
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def size_bins(size: np.ndarray, bins: int) -> np.ndarray:
    """Index of each value's quantile bin of ``size`` (``bins`` bins)."""
    edges = np.quantile(size, np.linspace(0, 1, bins + 1))
    return np.clip(np.searchsorted(edges, size, side="right") - 1, 0, bins - 1)


def binned(x: np.ndarray, y: np.ndarray, size: np.ndarray, bins: int, min_size: int = 10) -> float:
    """Mean Spearman of ``x`` with ``y`` inside quantile bins of ``size`` (bins with at least
    ``min_size`` members where neither ``x`` nor ``y`` is constant)."""
    which = size_bins(size, bins)
    rhos = []
    for b in range(bins):
        pick = which == b
        if pick.sum() >= min_size and np.ptp(x[pick]) > 0 and np.ptp(y[pick]) > 0:
            rhos.append(spearmanr(x[pick], y[pick]).statistic)
    return float(np.mean(rhos)) if rhos else math.nan


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Spearman of ``x`` and ``y`` controlling for ``z`` (partial correlation of the ranks)."""
    rxy = spearmanr(x, y).statistic
    rxz = spearmanr(x, z).statistic
    ryz = spearmanr(y, z).statistic
    if abs(rxz) >= 1.0 - 1e-12:  # x ranks as z does: nothing left to correlate
        return math.nan
    return float((rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2)))


def stats(x: np.ndarray, y: np.ndarray, size: np.ndarray, bins: int) -> tuple[float, ...]:
    keep = np.isfinite(x)
    x, y, size = x[keep], y[keep], size[keep]
    return (
        spearmanr(x, y).statistic,
        kendalltau(x, y).statistic,
        spearmanr(x, size).statistic,
        partial_spearman(x, y, size),
        binned(x, y, size, bins),
    )


def report(args: argparse.Namespace) -> None:
    _, table, archs = sample(args)
    order = {arch: i for i, arch in enumerate(archs)}
    rows = [json.loads(line) for out in args.out for line in out.read_text().splitlines()
            if line.strip()]  # fmt: skip
    by_dataset = {d: {r["arch"]: r for r in rows if r["dataset"] == d} for d in args.datasets}
    both = set.intersection(*(set(v) for v in by_dataset.values()))
    parts: dict[str, Callable[[int], bool]] = {
        f"select (first {args.select})": lambda i: i < args.select,
        f"held out (from {args.select})": lambda i: i >= args.select,
    }
    for size in args.batches:
        for part, keep in parts.items():
            chosen = sorted(
                (
                    a
                    for a in both
                    if keep(order[a]) and all(str(size) in v[a] for v in by_dataset.values())
                ),
                key=order.get,
            )
            if len(chosen) < 10:
                continue
            print(f"\n## batch {size}, {part}: n = {len(chosen)} per dataset\n")
            header = "| reading |" + "".join(
                f" {d} ρ acc | τ acc | ρ params | partial | in bins |" for d in args.datasets
            )
            print(header)
            print("|---" * (1 + 5 * len(args.datasets)) + "|")
            columns = {}
            for dataset in args.datasets:
                picked = [by_dataset[dataset][a] for a in chosen]
                acc = np.array([table.lookup(a, target(args, dataset)) for a in chosen])
                size_ = np.array([r["params"] for r in picked], dtype=float)
                values = reading_values(picked, size)
                values["params"] = size_
                values["flops"] = np.array([r["flops"] for r in picked], dtype=float)
                columns[dataset] = {k: stats(v, acc, size_, args.bins) for k, v in values.items()}
            for key in columns[args.datasets[0]]:
                cells = "".join(
                    " {:+.3f} | {:+.3f} | {:+.3f} | {:+.3f} | {:+.3f} |".format(*columns[d][key])
                    for d in args.datasets
                )
                print(f"| {key} |{cells}")
            for family, keys in (("I", ALIGN), ("II", DET)):
                mean = {
                    k: np.mean([columns[d][k][0] for d in args.datasets])
                    for k in columns[args.datasets[0]]
                    if k.split("/")[-1] in keys
                }
                best = sorted(mean, key=mean.get, reverse=True)[:3]
                print(
                    f"\nvariant {family}, best mean ρ: "
                    + ", ".join(f"{k} {mean[k]:+.3f}" for k in best)
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("measure", "report"))
    parser.add_argument(
        "--out",
        type=Path,
        nargs="+",
        required=True,
        help="JSONL file (measure: one per process; report: any number)",
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument(
        "--space",
        choices=("nb201", "nb101"),
        default="nb201",
        help="nb101: NASLib's 292 cells, cifar10/val_accuracy (use --datasets cifar10)",
    )
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    parser.add_argument("--datasets", type=lambda s: s.split(","), default=["cifar10", "cifar100"])
    parser.add_argument(
        "--batches",
        type=lambda s: [int(b) for b in s.split(",")],
        default=list(BATCHES),
        help="batch sizes to measure (first images)",
    )
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=1000)
    parser.add_argument("--select", type=int, default=200)
    parser.add_argument("--bins", type=int, default=10)
    args = parser.parse_args()
    measure(args) if args.command == "measure" else report(args)


if __name__ == "__main__":
    main()
