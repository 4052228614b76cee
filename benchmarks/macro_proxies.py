"""Proxies on the block-level spaces (issue 20): do they run, what do they cost, how do they rank.

Three parts (``--part``):

* ``smoke``: every registered proxy (or ``--proxies``) once on one architecture of a thin copy
  of each space (``mnasnet[width_mult=0.25]`` on synthetic 64x64 inputs with 1000 classes,
  ``nb_macro[head_channels=64,init_channels=8]``,
  ``channel_macro[family=mobilenet|resnet,width_mult=0.125]`` on CIFAR-10), batch 16, each
  alone (:func:`~trainfree.run.scoring.score_arch`). Prints each proxy's status, value (or the
  one-line error of a failure) and wall seconds as it goes. A score that takes more than
  ``--limit`` CPU seconds is stopped and reported as such (here and in ``cost``).
* ``cost``: every proxy (or ``--proxies``) alone (:func:`~trainfree.run.scoring.score_arch`) at
  its own defaults (init, repeats; batch size capped at ``--max-batch``, default 16, to keep
  memory and time small on a shared machine) on the first ``--n`` architectures of
  ``mnasnet``'s sample (seed ``--seed``), full size, synthetic 224x224 inputs (every proxy,
  InTrain's 64x64 default overridden), 1000 classes. Prints CPU seconds (user + sys of the
  process: on a shared machine, what one core would take) and wall seconds per architecture;
  run it with ``OMP_NUM_THREADS=1``. Resumable through ``--results`` (JSON lines).
* ``corr``: ``--proxies`` on ``--n`` architectures of a benchmark table drawn with ``--seed``
  (``--space nb_macro``: NAS-Bench-Macro ``mean_acc``, CIFAR-10 batches for the proxies that read
  data; ``--space mnasnet``: Accel-NASBench's top-1, averaged over the rows of an architecture
  trained twice, synthetic 224x224 inputs; ``--image-size`` overrides the size), Spearman and
  Kendall against the target, with the
  benchmark's own params and MACs (``SearchSpace.complexity``) as baselines. Scored through
  :func:`trainfree.run.runner.score_many`, resumable with ``--store`` (SQLite; a rerun scores
  only what is missing); ``--stored-only`` prints the table from what the store holds (the
  ``n`` column says how many architectures each row has).

Run from the repository root, e.g.::

    OMP_NUM_THREADS=1 python benchmarks/macro_proxies.py --part smoke
    OMP_NUM_THREADS=1 python benchmarks/macro_proxies.py --part cost --n 2
    OMP_NUM_THREADS=1 python benchmarks/macro_proxies.py --part corr --space nb_macro --n 200 \
        --proxies synflow,naswot,meco,intrain --store out/macro.sqlite
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import signal
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from trainfree.data import DataMode, default_data_dir
from trainfree.proxies import PROXIES, get_proxy
from trainfree.run.runner import RunReport, score_many
from trainfree.run.scoring import ScoreConfig, score_arch
from trainfree.run.store import ResultStore
from trainfree.spaces import SearchSpace, get_space
from trainfree.variants import split_names

DATA = default_data_dir() or Path(__file__).resolve().parents[1].parent / "shared" / "data"
CIFAR = ScoreConfig(data_dir=DATA)
IMAGENET = ScoreConfig(dataset="synthetic", image_size=224, num_classes=1000)
THIN = {
    "mnasnet[width_mult=0.25]": replace(IMAGENET, image_size=64, batch_size=16),
    "nb_macro[head_channels=64,init_channels=8]": replace(CIFAR, batch_size=16),
    "channel_macro[family=mobilenet,width_mult=0.125]": replace(CIFAR, batch_size=16),
    "channel_macro[family=resnet,width_mult=0.125]": replace(CIFAR, batch_size=16),
}


class OverLimit(Exception):
    """A proxy ran past its CPU-time limit."""


@contextmanager
def cpu_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`OverLimit` once this process has used ``seconds`` more CPU time (user +
    sys; ``setitimer(ITIMER_PROF)``), so one very slow proxy cannot hold up the table."""

    def stop(signum: int, frame: object) -> None:
        raise OverLimit(f"over the limit of {seconds:g} CPU seconds")

    previous = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _score(space: SearchSpace, arch: str, proxy: str, config: ScoreConfig, limit: float) -> dict:
    """``{"value", "error", "wall", "cpu"}`` of one score (``error`` one line or None)."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    try:
        with cpu_limit(limit):
            value, error = score_arch(space, arch, proxy, config).value, None
    except Exception as exc:  # reported in the table
        value, error = None, f"{type(exc).__name__}: {exc}".splitlines()[0][:140]
    return {
        "value": value,
        "error": error,
        "wall": time.perf_counter() - wall,
        "cpu": _cpu_seconds() - cpu,
    }


def smoke(proxies: list[str], limit: float) -> None:
    print("| space | proxy | status | value or error | seconds |")
    print("|---|---|---|---|---:|", flush=True)
    for name, config in THIN.items():
        space = get_space(name)
        arch = space.sample(1, seed=0)[0]
        for proxy in proxies:
            row = _score(space, arch, proxy, config, limit)
            shown = row["error"] or f"{row['value']:.6g}"
            status = "FAILED" if row["error"] else "ok"
            print(f"| `{name}` | {proxy} | {status} | {shown} | {row['wall']:.2f} |", flush=True)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _batch(proxy: str, max_batch: int) -> int:
    """The proxy's own batch size, at most ``max_batch``."""
    return min(IMAGENET.resolve(get_proxy(proxy)).batch_size, max_batch)


def cost(
    proxies: list[str], n: int, seed: int, max_batch: int, limit: float, results: Path
) -> None:
    """Wall and CPU seconds of each proxy alone (score_arch) per architecture, with batches of
    at most ``max_batch``; every measurement is appended to ``results`` (JSON lines) at once,
    and a rerun skips those."""
    space = get_space("mnasnet")
    archs = space.sample(n, seed=seed)
    done = {}
    if results.is_file():
        for line in results.read_text().splitlines():
            row = json.loads(line)
            done[row["arch"], row["proxy"]] = row
    results.parent.mkdir(parents=True, exist_ok=True)
    score_arch(space, archs[0], "params", IMAGENET)  # warm-up: imports, allocator
    for arch in archs:
        for proxy in proxies:
            if (arch, proxy) in done:
                continue
            config = replace(IMAGENET, batch_size=_batch(proxy, max_batch))
            row = {"arch": arch, "proxy": proxy, **_score(space, arch, proxy, config, limit)}
            done[arch, proxy] = row
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
    print(f"mnasnet, synthetic 224x224 inputs, 1000 classes; architectures (seed {seed}):")
    for arch in archs:
        print(f"- `{arch}`: {space.complexity(arch)}")
    print("\n| proxy | batch | CPU s/arch | wall s/arch | note |")
    print("|---|---:|---:|---:|---|")
    for proxy in proxies:
        rows = [done[a, proxy] for a in archs if (a, proxy) in done]
        ok = [r for r in rows if r["error"] is None]
        one_input = get_proxy(proxy).data_mode in (DataMode.FREE, DataMode.ONES)
        batch = 1 if one_input else _batch(proxy, max_batch)
        if ok:
            cpu = statistics.fmean(r["cpu"] for r in ok)
            wall = statistics.fmean(r["wall"] for r in ok)
            print(f"| {proxy} | {batch} | {cpu:.1f} | {wall:.1f} | {len(ok)} archs |")
        else:
            note = rows[0]["error"] if rows else "not run"
            print(f"| {proxy} | {batch} | | | FAILED: {note} |")


def _targets(space: str) -> dict[str, float]:
    if space == "nb_macro":
        with open(DATA / "macro" / "nas-bench-macro_cifar10.json") as f:
            return {code: e["mean_acc"] for code, e in json.load(f).items()}
    rows: dict[str, list[float]] = {}
    with open(DATA / "mnasnet" / "accel_nasbench_imagenet.csv") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["arch"], []).append(float(row["imagenet_val_top1_proxified"]))
    return {arch: statistics.fmean(v) for arch, v in rows.items()}


def _stored(space: str, archs: list[str], proxies: list[str], config: ScoreConfig, store):
    """What ``store`` holds for ``archs`` x ``proxies`` (nothing is scored)."""
    report = RunReport()
    for arch in archs:
        for proxy in proxies:
            found = store.get(space, arch, proxy, config.resolve(get_proxy(proxy)))
            if found is not None and found.status == "ok":
                report.results.append(found.as_result())
    return report


def corr(
    space_name: str,
    proxies: list[str],
    n: int,
    seed: int,
    image_size: int | None,
    store: ResultStore | None,
    stored_only: bool,
    skip: int = 0,
) -> None:
    targets = _targets(space_name)
    archs = random.Random(seed).sample(sorted(targets), n)[skip:]
    config = IMAGENET if space_name == "mnasnet" else CIFAR
    if image_size:
        config = replace(config, image_size=image_size)
    space = get_space(space_name)
    if stored_only and store is not None:
        canonical = [space.canonical(a) for a in archs]
        report = _stored(space.name, canonical, proxies, config, store)
    else:
        report = score_many(space_name, archs, proxies, config, store=store)
    target = np.array([targets[a] for a in archs])
    columns = {
        "params (benchmark count)": np.array([space.complexity(a)["params"] for a in archs]),
        "MACs (benchmark count)": np.array([space.complexity(a)["macs"] for a in archs]),
    }
    canonical = [space.canonical(a) for a in archs]
    for proxy in proxies:
        columns[proxy] = report.values(proxy, canonical)
    print(f"{space_name}: architectures {skip + 1}-{n} of the table's sample (seed {seed})")
    print("| score | n | Spearman | Kendall | seconds/arch | params / MACs Spearman, same n |")
    print("|---|---:|---:|---:|---:|---|")
    params, macs = columns["params (benchmark count)"], columns["MACs (benchmark count)"]
    for name, values in columns.items():
        ok = np.isfinite(values)
        rho = stats.spearmanr(values[ok], target[ok]).statistic
        tau = stats.kendalltau(values[ok], target[ok]).statistic
        secs = report.seconds_per_arch(name) if name in proxies else 0.0
        same = [stats.spearmanr(c[ok], target[ok]).statistic for c in (params, macs)]
        print(
            f"| {name} | {int(ok.sum())} | {rho:.3f} | {tau:.3f} | {secs:.2f} "
            f"| {same[0]:.3f} / {same[1]:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("smoke", "cost", "corr"), required=True)
    parser.add_argument("--proxies", help="comma-separated (default: every registered proxy)")
    parser.add_argument("--space", choices=("nb_macro", "mnasnet"), default="nb_macro")
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, help="corr: override the input size")
    parser.add_argument(
        "--skip", type=int, default=0, help="corr: leave out the sample's first N (held-out rows)"
    )
    parser.add_argument(
        "--stored-only", action="store_true", help="corr: only read --store, score nothing"
    )
    parser.add_argument("--store", type=Path, help="SQLite result store (resumable)")
    parser.add_argument("--results", type=Path, default=Path("out/macro_cost.jsonl"))
    parser.add_argument("--max-batch", type=int, default=16, help="cost: batch size cap")
    parser.add_argument(
        "--limit", type=float, default=300.0, help="smoke, cost: CPU seconds per proxy score"
    )
    args = parser.parse_args()
    proxies = split_names(args.proxies) if args.proxies else list(PROXIES.names())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)
    store = ResultStore(args.store) if args.store else None
    if args.part == "smoke":
        smoke(proxies, args.limit)
    elif args.part == "cost":
        cost(proxies, args.n, args.seed, args.max_batch, args.limit, args.results)
    else:
        corr(
            args.space,
            proxies,
            args.n,
            args.seed,
            args.image_size,
            store,
            args.stored_only,
            args.skip,
        )


if __name__ == "__main__":
    main()
