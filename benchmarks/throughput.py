"""Architectures per minute with the in-process, process-pool and Ray executors (issue 6).

Scores the same ``--n`` sampled full-size NB201 architectures with ``--proxies`` (default: the
seed proxies) once per executor setting — in-process (1 worker), a process pool of 2 workers, and
a local Ray started for the run with 2 CPUs — without a store, and prints the wall time, the
architectures per minute and the largest relative difference between any setting's values and
the in-process ones. Every score is a pure function of its inputs, but a worker runs torch with
``cores // workers`` threads, and a different thread count sums in a different order: values then
agree to floating-point rounding, not bit for bit.

    python benchmarks/throughput.py --n 12
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

import torch

from trainfree.data import default_data_dir
from trainfree.run.executors import make_executor
from trainfree.run.runner import resolve_proxies, score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.spaces import get_space

SEED_PROXIES = "intrain,near,gradalign,tenas_ntk,tenas_lr"
SETTINGS = (("local", 1), ("local", 2), ("ray", 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxies", default=SEED_PROXIES)
    args = parser.parse_args()
    archs = get_space("nb201").sample(args.n, seed=args.seed)
    proxies = resolve_proxies(args.proxies)
    config = ScoreConfig(dataset="cifar10", data_dir=default_data_dir(), seed=args.seed)
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"Machine: {os.cpu_count()} cores; date {datetime.date.today()}; "
          f"{args.n} architectures x {args.proxies}\n")  # fmt: skip
    print("| executor | workers | threads / process | wall s | architectures / minute "
          "| max relative diff vs in-process (proxy) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    reference: dict | None = None
    for name, workers in SETTINGS:
        executor = make_executor(name, workers=workers)
        start = time.perf_counter()
        report = score_many("nb201", archs, proxies, config, executor=executor)
        wall = time.perf_counter() - start
        executor.close()
        values = {(r.arch, r.proxy): r.value for r in report.results}
        if reference is None:
            reference = values
        gaps = {k: abs(values[k] - v) / max(abs(v), 1e-300) for k, v in reference.items()}
        worst = max(gaps, key=gaps.__getitem__)
        diff = f"{gaps[worst]:.2g} ({worst[1]})" if gaps[worst] else "0"
        threads = (
            torch.get_num_threads()
            if name == "local" and workers == 1
            else max(1, (os.cpu_count() or 1) // workers)
        )
        failed = f" ({len(report.failures)} failed)" if report.failures else ""
        rate = f"{60 * args.n / wall:.2f}{failed}"
        print(f"| {name} | {workers} | {threads} | {wall:.1f} | {rate} | {diff} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
