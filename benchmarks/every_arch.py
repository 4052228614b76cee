"""Every proxy on every NAS-Bench-201 cell: a defined, finite value for all 15,625 (issue 3).

Scores each of the 15,625 cells (the all-``none`` cell first, then the others in a seeded random
order, so that a partial run is a uniform sample; ``--n`` stops after N) with every registered
single proxy but ``tenas_ntk`` (or ``--proxies``) on ``--space``, by default ``nb201[C=4,N=1]``:
the same cells, ops and connections in a network of 4 stem channels and one cell per stage, so
that all 15,625 take about 3 CPU-hours (0.7 s per cell). What can make a proxy undefined on a
cell is its structure (no path from input to output, no parameters, no gradient, an
input-independent output), which the thin network keeps; the magnitude effects of full depth and
width are covered by the full-size 1000-architecture tables of ``benchmarks/correlation.py``.
``tenas_ntk`` is left out by default: it builds its own C=3, N=1 network whatever the space,
costs 2.7 s of the 3.4 s per cell, and its value is clipped to ``[1, max_condition]`` by
definition. A proxy's non-finite value is a failure (``NonFiniteScoreError``), so the table
counts, per proxy, the cells that failed and quotes the first error, and gives the range of the
values and the value of the all-``none`` cell.

Scores go into ``--store`` as each finishes, so an interrupted run resumes::

    OMP_NUM_THREADS=1 python benchmarks/every_arch.py --workers 2 \\
        --store benchmarks/results/every_arch.sqlite
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

from trainfree.data import default_data_dir
from trainfree.proxies import PROXIES
from trainfree.run.executors import make_executor
from trainfree.run.runner import progress_printer, score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space
from trainfree.variants import split_names

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nb201[C=4,N=1]")
    everything = [name for name in PROXIES.names() if name != "tenas_ntk"]
    parser.add_argument("--proxies", default=",".join(everything))
    parser.add_argument("--n", type=int, help="stop after N cells (all-none first, then seeded)")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    space = get_space(args.space)
    order = [a for a in space.sample(space.size(), seed=args.seed) if a != ALL_NONE]
    archs = [ALL_NONE, *order][: args.n]
    proxies = split_names(args.proxies)
    config = ScoreConfig(dataset=args.dataset, data_dir=default_data_dir(), seed=args.seed)
    executor = make_executor("local", workers=args.workers)
    progress = progress_printer(len(archs) * len(proxies), steps=50)

    args.store.parent.mkdir(parents=True, exist_ok=True)
    with ResultStore(args.store) as store:
        report = score_many(
            space.name, archs, proxies, config, store=store, executor=executor, progress=progress
        )
    executor.close()
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    when = datetime.date.today()
    print(f"Machine: {os.cpu_count()} cores, {args.workers} worker(s); date {when}; "
          f"{len(archs)} cells of {space.name}, {args.dataset} data\n")  # fmt: skip
    print("| proxy | cells | ok and finite | failed | first failure | min | max | all-none cell |")
    print("|---|---|---|---|---|---|---|---|")
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for result in report.results:
        values[result.proxy][result.arch] = result.value
    errors: dict[str, Counter] = defaultdict(Counter)
    for failure in report.failures:
        errors[failure.proxy][failure.error] += 1
    for proxy in proxies:
        finite = [v for v in values[proxy].values() if math.isfinite(v)]
        first = errors[proxy].most_common(1)[0][0] if errors[proxy] else "-"
        low, high = (f"{min(finite):.4g}", f"{max(finite):.4g}") if finite else ("-", "-")
        blind = values[proxy].get(ALL_NONE)
        shown = "-" if blind is None else f"{blind:.4g}"
        failed = sum(errors[proxy].values())
        print(f"| {proxy} | {len(archs)} | {len(finite)} | {failed} | {first} | "
              f"{low} | {high} | {shown} |")  # fmt: skip


if __name__ == "__main__":
    main()
