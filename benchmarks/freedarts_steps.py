"""FreeDARTS/ZEROS on NAS-Bench-201, one step of the method changed at a time.

Every setting is a set of :func:`trainfree.search.zeros.zeros_search` options (``mixing``,
``bn``, ``abs_alphas``, ``rounds``, ``alpha_init``, ``dtype``). For each setting,
dataset and seed this runs one search and looks the found cell up in ``nb201_accuracy.csv``
(``<dataset>_test_200ep``) under ``$TRAINFREE_DATA``. ZEROS is data-agnostic (one all-ones image),
so the dataset changes only the class count and the accuracy column; the seed changes only the
supernet's initialisation (weights and alphas).

Finished runs are appended to ``--log`` (JSON lines) and skipped on a re-run (resumable); the
summary (mean ± sd, mean seconds, found cells) is printed as a Markdown table. ``--scores``
prints instead how the first-round ZEROS of each op compares with the best op of its edge, under
raw-alpha and softmax mixing (why softmax picks ``none`` and parameter-free ops).

    OMP_NUM_THREADS=1 python benchmarks/freedarts_steps.py --log runs/freedarts_steps.jsonl
    OMP_NUM_THREADS=1 python benchmarks/freedarts_steps.py --scores
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from trainfree.data import default_data_dir
from trainfree.errors import TrainfreeError
from trainfree.evaluate import load_benchmark
from trainfree.search import run_search
from trainfree.search.supernet import pruning_space
from trainfree.search.zeros import zeros_scores
from trainfree.spaces import get_space

#: The data folder beside the checkout, when ``$TRAINFREE_DATA`` is unset.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOFTMAX = {"mixing": "softmax"}
#: name -> (what changes, zeros_search options); "default" is the library's default.
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("library default: raw-alpha mixing (released code), iterative", {}),
    "oneshot": ("default, one scoring round (released notebook)", {"rounds": 1}),
    "signed": ("default, alphas left signed", {"abs_alphas": False}),
    "bn-batch": ("default, train-mode BN (released)", {"bn": "batch"}),
    "ones": (
        "default, alphas initialised to 1 (the released notebook's printed alphas)",
        {"alpha_init": "ones"},
    ),
    "released": (
        "raw alphas, one round, train-mode BN, float32 (released notebook)",
        {"rounds": 1, "bn": "batch", "dtype": "float32"},
    ),
    "softmax": ("softmax mixing (the library default before)", SOFTMAX),
    "softmax-oneshot": ("softmax mixing, one round", {**SOFTMAX, "rounds": 1}),
    "softmax-ones": ("softmax mixing, alphas initialised to 1", {**SOFTMAX, "alpha_init": "ones"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="JSON-lines log of the runs (resumable)")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--datasets", default="cifar10,cifar100")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument(
        "--scores", action="store_true", help="print the first-round ZEROS per op instead"
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir() or SHARED_DATA)
    args = parser.parse_args()
    if args.scores:
        _score_table([int(s) for s in args.seeds.split(",")])
        return
    if args.log is None:
        parser.error("--log is required (except with --scores)")
    space = get_space("nb201")
    table = load_benchmark(args.data_dir / "nb201" / "nb201_accuracy.csv", space)
    done = {}
    if args.log.is_file():
        for line in args.log.read_text().splitlines():
            row = json.loads(line)
            done[row["setting"], row["dataset"], row["seed"]] = row
    settings = args.settings.split(",")
    datasets = args.datasets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in settings:
        for dataset in datasets:
            for seed in seeds:
                if (name, dataset, seed) in done:
                    continue
                classes = 100 if dataset == "cifar100" else 10
                row = {"setting": name, "dataset": dataset, "seed": seed}
                try:
                    result = run_search(
                        "freedarts", space, seed=seed, num_classes=classes, **SETTINGS[name][1]
                    )
                except TrainfreeError as exc:  # NaN scores, a zero cell: recorded, not hidden
                    row.update(arch=None, error=str(exc), accuracy=None, seconds=None)
                else:
                    row.update(
                        arch=result.arch,
                        seconds=result.seconds,
                        evaluations=result.evaluations,
                        accuracy=table.lookup(result.arch, f"{dataset}_test_200ep"),
                    )
                done[name, dataset, seed] = row
                with args.log.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print("\n| setting | dataset | accuracy per seed | mean ± sd | s/search | cells (count) |")
    print("|---|---|---|---|---|---|")
    for name in settings:
        for dataset in datasets:
            rows = [done[name, dataset, s] for s in seeds if (name, dataset, s) in done]
            if rows:
                print(_summary(name, dataset, rows))


def _score_table(seeds: list[int]) -> None:
    """First-round ZEROS of each op relative to the best op of its edge (median over the 6 edges
    x seeds of log10 score/best), its |dR/dalpha| alone the same way, and how often it is the
    edge's argmax; for both mixings, on the default supernet (C=16, N=5, CIFAR-10 head)."""
    ops = pruning_space("nb201").op_names
    print("| mixing | quantity | " + " | ".join(ops) + " |")
    print("|---|---|" + "---|" * len(ops))
    for mixing in ("alphas", "softmax"):
        ratios, grads, wins = [], [], torch.zeros(len(ops))
        for seed in seeds:
            torch.manual_seed(seed)
            net = pruning_space("nb201").build(C=16, N=5, num_classes=10, weights=mixing)
            (score,) = zeros_scores(net, input_shape=(3, 32, 32))
            grad = score / net.alphas.detach().double().abs()
            ratios.append((score / score.max(dim=1, keepdim=True).values).log10())
            grads.append((grad / grad.max(dim=1, keepdim=True).values).log10())
            wins += torch.bincount(score.argmax(dim=1), minlength=len(ops))
        for label, values in (("log10 ZEROS/best", ratios), ("log10 |dR/da|/best", grads)):
            median = torch.cat(values).median(dim=0).values
            print(f"| {mixing} | {label} | " + " | ".join(f"{v:.2f}" for v in median) + " |")
        print(f"| {mixing} | argmax edges | " + " | ".join(f"{int(w)}" for w in wins) + " |")


def _summary(name: str, dataset: str, rows: list[dict[str, Any]]) -> str:
    """One Markdown row: accuracies per seed (``err`` for a failed search), mean ± sd, cells."""
    accs = [r["accuracy"] for r in rows if r["accuracy"] is not None]
    mean = f"{statistics.mean(accs):.2f}" if accs else "-"
    sd = f"{statistics.stdev(accs):.2f}" if len(accs) > 1 else "-"
    seconds = [r["seconds"] for r in rows if r["seconds"] is not None]
    per_seed = " ".join("err" if r["accuracy"] is None else f"{r['accuracy']:.2f}" for r in rows)
    cells = Counter(r["arch"] or r["error"] for r in rows).most_common()
    return (
        f"| {name} | {dataset} | {per_seed} | {mean} ± {sd} | "
        f"{statistics.mean(seconds) if seconds else math.nan:.2f} | "
        + "<br>".join(f"`{a}` ({k})" for a, k in cells)
        + " |"
    )


if __name__ == "__main__":
    main()
