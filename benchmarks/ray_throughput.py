"""Throughput of a two-node Ray cluster on this machine against the process pool (issue 24).

Starts a Ray cluster with ``ray start`` -- a head and a second node of one CPU each, both on the
loopback interface, token authentication on (``trainfree.run.raycluster``) -- or joins
``--address``, and scores the same ``--n`` sampled NB201 architectures with ``--proxies`` on a
process pool of 2 workers (one thread each, the same cores) and on the cluster: a cold pass
(workers start and import torch), then ``--rounds`` warm passes (workers reused), the two
executors taking turns to go first. Prints a markdown
table of wall times, architectures per minute, the Ray / pool ratio, how many tasks each node
ran, and the largest relative difference of any Ray value from the pool's.

    OMP_NUM_THREADS=1 python benchmarks/ray_throughput.py --n 24
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from trainfree.data import default_data_dir
from trainfree.run.executors import Executor, Outcome, ProcessExecutor, RayExecutor
from trainfree.run.raycluster import LoopbackCluster
from trainfree.run.runner import resolve_proxies, score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.spaces import get_space


def _run(executor: Executor, archs: list[str], proxies: list, config: ScoreConfig) -> tuple:
    """(wall seconds, (arch, proxy) -> value, tasks per node) of one pass over ``archs``."""
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    progress = outcomes.append
    report = score_many("nb201", archs, proxies, config, executor=executor, progress=progress)
    wall = time.perf_counter() - start
    if report.failures:
        sys.exit(f"{len(report.failures)} scores failed, e.g. {report.failures[0].error}")
    values = {(r.arch, r.proxy): r.value for r in report.results}
    nodes = collections.Counter(o.node for o in outcomes if o.proxy == o.task.proxies[0])
    return wall, values, nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxies", default="synflow,naswot,snip")
    parser.add_argument("--rounds", type=int, default=3, help="Warm passes after the first.")
    parser.add_argument("--address", help="Join this Ray cluster instead of starting one.")
    args = parser.parse_args()
    archs = get_space("nb201").sample(args.n, seed=args.seed)
    config = ScoreConfig(dataset="cifar10", data_dir=default_data_dir(), seed=args.seed)
    proxies = resolve_proxies(args.proxies)
    load = os.getloadavg()[0]

    root = Path(tempfile.mkdtemp(prefix="tfbench", dir="/tmp"))
    cluster = None if args.address else LoopbackCluster(root, nodes=2, cpus=1)
    rows = []
    try:
        if cluster is not None:
            cluster.start()
            os.environ.update(cluster.env)
        with ProcessExecutor(workers=2) as pool, RayExecutor(
            args.address or cluster.address
        ) as ray:
            for round_ in range(1 + args.rounds):  # the first pass starts the workers
                order = (pool, ray) if round_ % 2 == 0 else (ray, pool)  # cancel drifting load
                runs = {e: _run(e, archs, proxies, config) for e in order}
                rows.append(("cold" if round_ == 0 else f"warm {round_}", runs[pool], runs[ray]))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} "
          f"python {' '.join(sys.argv)}`  ")  # fmt: skip
    print(f"Machine: {os.cpu_count()} cores, torch {torch.__version__}; date "
          f"{datetime.date.today()}; load average before/after "
          f"{load:.1f}/{os.getloadavg()[0]:.1f} (other jobs share the machine); "
          f"{args.n} NB201 architectures x {args.proxies}\n")  # fmt: skip
    print("| pass | process pool (2 workers) s | Ray, 2 nodes x 1 CPU s | Ray / pool "
          "throughput | architectures / min (pool, Ray) | tasks per Ray node | "
          "max rel. diff Ray vs pool |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, (pool_wall, reference, _), (ray_wall, values, nodes) in rows:
        worst = max(abs(values[k] - v) / max(abs(v), 1e-300) for k, v in reference.items())
        per_node = ", ".join(str(count) for _, count in nodes.most_common())
        print(f"| {name} | {pool_wall:.1f} | {ray_wall:.1f} | {pool_wall / ray_wall:.2f} "
              f"| {60 * args.n / pool_wall:.1f}, {60 * args.n / ray_wall:.1f} | {per_node} "
              f"| {worst:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
