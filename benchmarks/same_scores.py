"""Score architectures with every proxy and print one JSON line per (arch, proxy): run it under
two versions of the library (``PYTHONPATH=OLD/src``) and compare the lines to show a refactoring
left the values unchanged (issue 17).

    python benchmarks/same_scores.py --n 4 > new.jsonl
    PYTHONPATH=/path/to/old/src python benchmarks/same_scores.py --n 4 > old.jsonl
    diff old.jsonl new.jsonl
"""

from __future__ import annotations

import argparse
import json

from trainfree.data import default_data_dir
from trainfree.proxies import PROXIES
from trainfree.run.scoring import ScoreConfig, score_proxies
from trainfree.spaces import get_space

try:
    from trainfree.evaluate import load_benchmark
except ImportError:  # the library before issue 17 named its evaluation package benchmarks
    from trainfree.benchmarks import load_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="first N of the fixed 1000 sample")
    parser.add_argument("--proxies", help="comma-separated (default: every registered proxy)")
    parser.add_argument("--dataset", default="cifar10")
    args = parser.parse_args()
    space = get_space("nb201")
    table = load_benchmark(default_data_dir() / "nb201" / "nb201_accuracy.csv", space)
    archs = table.sample(1000, seed=0, target="cifar10_test_200ep")[: args.n]
    names = args.proxies.split(",") if args.proxies else PROXIES.names()
    config = ScoreConfig(dataset=args.dataset, data_dir=default_data_dir(), seed=0)
    for arch in archs:
        for name, result in sorted(score_proxies(space, arch, names, config).items()):
            print(json.dumps({"arch": arch, "proxy": name, "value": repr(result.value)}))


if __name__ == "__main__":
    main()
