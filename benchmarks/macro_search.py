"""Budgeted searches on the block-level spaces, restricted to the benchmark table's architectures.

For every (budget, seed) this runs the same search as

    trainfree search SPACE --algo rea --proxy PROXY --max-macs BUDGET --within-benchmark --json

(:func:`trainfree.cli.searching.run_fitness_search` and :func:`~trainfree.cli.searching.document`
with ``within=`` the table's architectures that have a value), so every found architecture has a
trained accuracy, and its rank among the table's architectures within the same budget is printed.
The search sees the proxy's inputs only, never an accuracy. Scores are kept in ``--store``
(shared by the seeds, so a rerun or another seed reuses them); each finished search is appended
to ``--log`` (JSON lines) and skipped on a rerun.

    OMP_NUM_THREADS=1 python benchmarks/macro_search.py --space nb_macro --proxy naswot \\
        --budgets 40M,60M --unit macs --seeds 0,1,2 --evaluations 100 \\
        --store runs/macro_search.sqlite --log runs/macro_search.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from trainfree.cli.searching import default_benchmark, document, load_standing, run_fitness_search
from trainfree.data import default_data_dir
from trainfree.run.scoring import ScoreConfig
from trainfree.search.constraints import Limits
from trainfree.spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", required=True)
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--budgets", required=True, help="comma-separated, e.g. 300M,400M")
    parser.add_argument("--unit", choices=("macs", "flops", "params"), default="macs")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--evaluations", type=int, default=100)
    parser.add_argument("--algo", default="rea")
    parser.add_argument("--store", type=Path)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()

    space = get_space(args.space)
    found = default_benchmark(space, args.dataset, None)
    if found is None:
        raise SystemExit(f"no benchmark table of {space.name} under the data folder")
    truth = load_standing(space, *found)
    table = [arch for arch, value in truth.by_arch.items() if not math.isnan(value)]
    done = set()
    if args.log.is_file():
        done = {(r["budget"], r["seed"]) for r in map(json.loads, args.log.open()) if r}
    for budget in args.budgets.split(","):
        limits = Limits.parse(**{f"max_{args.unit}": budget})
        for seed in map(int, args.seeds.split(",")):
            if (budget, seed) in done:
                continue
            config = ScoreConfig(dataset=args.dataset, data_dir=default_data_dir(), seed=seed)
            start = time.process_time()
            result, fitness = run_fitness_search(
                space, args.algo, args.proxy, config, evaluations=args.evaluations,
                seconds=None, limits=limits, store=args.store, quiet=True, truth=truth,
                extra={"within": table},
            )  # fmt: skip
            doc = document(space, result, args.proxy, fitness.components(result.arch), truth,
                           limits)  # fmt: skip
            doc |= {"budget": budget, "seed": seed, "cpu_seconds": time.process_time() - start,
                    "distinct": len({a for a, _ in result.history})}  # fmt: skip
            with args.log.open("a") as log:
                log.write(json.dumps(doc) + "\n")
            print(
                f"{budget} seed {seed}: {doc['arch']} {doc['target_value']:.2f} "
                f"(rank {doc['rank']} of {doc['n_archs']}, best {doc['best_target_value']:.2f}); "
                f"{doc[args.unit] / 1e6:.1f}M {args.unit}; {doc['distinct']} distinct; "
                f"{doc['seconds']:.0f} s wall, {doc['cpu_seconds']:.0f} s CPU",
                flush=True,
            )


if __name__ == "__main__":
    main()
