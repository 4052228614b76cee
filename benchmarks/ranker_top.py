"""Where does a ranker put NAS-Bench-201's best cells? (issue 22: the ceiling of a search.)

A search that returns its fitness' best architecture can do no better than the fitness' own
argmax over the space. This script scores a pool (the fixed 1000-architecture sample, the
``--top`` most accurate cells of the whole table, and any ``--arch``) with the ranker's
components at one seed, aggregates them over the pool, and prints the ranker's top of the pool
and the rank it gives each of the table's best cells. It reads accuracies to *show* where the
ranker's top lies, never to choose anything.

    R="ensemble[azlog]:az_expressivity+az_trainability+synflow+meco+params+jacov"
    python benchmarks/ranker_top.py --ranker "$R" --top 30 --store runs/nb201_azn.sqlite
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from trainfree.data import default_data_dir
from trainfree.evaluate.standing import Standing
from trainfree.evaluate.tables import load_benchmark
from trainfree.proxies.ensemble import parse_objective
from trainfree.run.runner import score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space

FIXED_SAMPLE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranker", required=True, help="a proxy or an ensemble name")
    parser.add_argument("--top", type=int, default=30, help="the table's best cells to add")
    parser.add_argument("--arch", action="append", default=[], help="more cells to add")
    parser.add_argument("--target", default="cifar10_test_200ep")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=10, help="how much of the ranker's top")
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()

    space = get_space("nb201")
    table = load_benchmark(default_data_dir() / "nb201" / "nb201_accuracy.csv", space)
    truth = Standing.of(table, args.target)
    accuracy = truth.by_arch
    sample = table.sample(FIXED_SAMPLE, seed=0)
    best = sorted(accuracy, key=accuracy.__getitem__, reverse=True)[: args.top]
    added = [space.canonical(a) for a in args.arch]
    pool = list(dict.fromkeys([*sample, *best, *added]))
    objective = parse_objective(args.ranker).validate()
    config = ScoreConfig(dataset=args.dataset, seed=args.seed)
    with ResultStore(args.store) as store:
        report = score_many("nb201", pool, list(objective.components), config, store=store)
    for failure in report.failures:
        raise SystemExit(f"{failure.proxy} failed on {failure.task.arch}: {failure.error}")
    scores = {c: report.values(c, pool) for c in objective.components}
    order = np.argsort(-objective.combine(scores), kind="stable")
    rank = {pool[i]: r + 1 for r, i in enumerate(order)}
    sampled = set(sample)

    print(f"{args.ranker} over {len(pool)} cells ({FIXED_SAMPLE} sampled + the table's best "
          f"{args.top} + {len(added)} given), {args.target}")  # fmt: skip
    print("\n| ranker's rank | accuracy | table rank | in | cell |\n|---:|---:|---:|---|---|")
    shown = [pool[i] for i in order[: args.show]]
    for arch in dict.fromkeys([*shown, *added]):
        where = "sample" if arch in sampled else "added"
        print(f"| {rank[arch]} | {accuracy[arch]:.2f} | {truth.standing(arch)['rank']} | {where} "
              f"| `{arch}` |")  # fmt: skip
    ranks = sorted(rank[a] for a in best)
    print(f"\nThe table's best {args.top} (accuracy {accuracy[best[-1]]:.2f}-"
          f"{accuracy[best[0]]:.2f}): ranker's ranks {ranks}")  # fmt: skip


if __name__ == "__main__":
    main()
