"""Training-free searches on NAS-Bench-201 (and DARTS), judged by the benchmark's trained accuracy.

For every (dataset, seed, algorithm) this runs one search with the library's
:func:`trainfree.search.run_search` and looks the found NB201 cell up in ``nb201_accuracy.csv``
(``<dataset>_test_200ep``: 200-epoch test accuracy, mean over the benchmark's training seeds).
Algorithms: ``tenas`` (TE-NAS pruning, official settings), ``freedarts`` (ZEROS, iterative),
``rea`` (regularised evolution driven by ``--rea-proxy`` for ``--evaluations`` queries) and
``random`` (same proxy and budget). The search sees only the images of its dataset (CIFAR-10 or
CIFAR-100 from ``$TRAINFREE_DATA``), never an accuracy. ``--tenas-init default`` runs TE-NAS with
PyTorch's own initialisation (what the official launcher ends up using) instead of Kaiming;
``--tenas-draws repeat`` with one draw of weights and data per repeat for all candidates
(``tenas_search``'s ``draws``); ``--tenas-lr-images N`` cuts the region crops from N images
(the shared CIFAR-100 has 486 training images, fewer than the official 3000);
``--tenas-augment`` gives the NTK batches the official loader's crop-and-flip augmentation.

``--darts`` also runs TE-NAS and FreeDARTS (those of them in ``--algos``) once on the DARTS space
and prints the genotypes with their parameter counts (C=36, 20 cells, 10 classes) and search
times; ``--datasets ''`` leaves out NB201.

Each finished search is appended to ``--log`` (JSON lines) and skipped on a re-run, so an
interrupted benchmark resumes. ``--jobs`` searches run side by side, each in its own process with
``--threads`` torch threads (default ``cores // jobs``); the wall times printed are those of each
search under that load.

    python benchmarks/search.py --log runs/search.jsonl --jobs 2
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from trainfree.data import default_data_dir
from trainfree.evaluate import load_benchmark
from trainfree.run.scoring import ScoreConfig
from trainfree.search import run_search
from trainfree.spaces import get_space

PUBLISHED = {("tenas", "cifar10"): "93.9 ± 0.47", ("tenas", "cifar100"): "71.24 ± 0.56"}


def _options(algo: str, dataset: str, seed: int, args: argparse.Namespace) -> dict:
    classes = 100 if dataset == "cifar100" else 10
    if algo == "tenas":
        inits = {"ntk_init": args.tenas_init, "lr_init": args.tenas_init} if args.tenas_init else {}
        draws = {"draws": args.tenas_draws} if args.tenas_draws else {}
        images = {"lr_images": args.tenas_lr_images} if args.tenas_lr_images else {}
        augment = {"augment": True} if args.tenas_augment else {}
        return {"dataset": dataset, "data_dir": args.data_dir, "seed": seed, **inits, **draws,
                **images, **augment}  # fmt: skip
    if algo == "freedarts":
        return {"num_classes": classes, "seed": seed}
    config = ScoreConfig(dataset=dataset, data_dir=args.data_dir, seed=seed)
    return {
        "proxy": args.rea_proxy,
        "config": config,
        "evaluations": args.evaluations,
        "seed": seed,
    }


def _run(space: str, algo: str, dataset: str, seed: int, args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // args.jobs))
    result = run_search(algo, space, **_options(algo, dataset, seed, args))
    record = {
        "space": space,
        "algo": algo,
        "dataset": dataset,
        "seed": seed,
        "arch": result.arch,
        "seconds": result.seconds,
        "evaluations": result.evaluations,
    }
    if algo in ("rea", "random"):
        record["proxy"] = args.rea_proxy
    if algo == "tenas" and _tenas_variant(args):
        record["proxy"] = _tenas_variant(args)
    if space == "darts":
        model = get_space("darts").build(result.arch, num_classes=10)  # C=36, 20 cells, no aux
        record["params"] = sum(p.numel() for p in model.parameters())
    return record


def _tenas_variant(args: argparse.Namespace) -> str | None:
    """How a TE-NAS run departs from the library's defaults, as logged (None: it does not)."""
    parts = [f"init={args.tenas_init}"] if args.tenas_init else []
    parts += [f"draws={args.tenas_draws}"] if args.tenas_draws else []
    parts += [f"lr_images={args.tenas_lr_images}"] if args.tenas_lr_images else []
    parts += ["augment"] if args.tenas_augment else []
    return ",".join(parts) or None


def _key(record: dict) -> tuple:
    return (record["space"], record["algo"], record["dataset"], record["seed"],
            record.get("proxy"))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="tenas,freedarts,rea,random")
    parser.add_argument("--datasets", default="cifar10,cifar100")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rea-proxy", default="ensemble[azlog]:naswot+synflow+params")
    parser.add_argument("--evaluations", type=int, default=1000)
    parser.add_argument(
        "--tenas-init", help="init of both TE-NAS supernets (default: the library's, PyTorch's own)"
    )
    parser.add_argument(
        "--tenas-draws", help="TE-NAS draws: launcher (the library's default), candidate or repeat"
    )
    parser.add_argument("--tenas-lr-images", type=int, help="images to crop (default 3000)")
    parser.add_argument(
        "--tenas-augment", action="store_true", help="crop+flip the NTK batches, as officially"
    )
    parser.add_argument("--darts", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads per search (cores // jobs)")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    if args.data_dir is None:
        raise SystemExit("error: no data folder: set TRAINFREE_DATA or pass --data-dir")
    args.log.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.log.exists():
        for line in args.log.read_text().splitlines():
            record = json.loads(line)
            done[_key(record)] = record
    algos = [a for a in args.algos.split(",") if a]
    jobs = [
        ("nb201", algo, dataset, int(seed))
        for dataset in filter(None, args.datasets.split(","))
        for seed in args.seeds.split(",")
        for algo in algos
    ]
    if args.darts:
        jobs += [("darts", algo, "cifar10", 0) for algo in ("tenas", "freedarts") if algo in algos]
    variants = {"rea": args.rea_proxy, "random": args.rea_proxy}
    if _tenas_variant(args):
        variants["tenas"] = _tenas_variant(args)
    proxy = variants.get
    todo = [j for j in jobs if (*j, proxy(j[1])) not in done]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(_run, *job, args): job for job in todo}
        for future in as_completed(futures):
            record = future.result()
            done[_key(record)] = record
            with args.log.open("a") as log:
                log.write(json.dumps(record) + "\n")
            print(f"  done {futures[future]}: {record['arch']} ({record['seconds']:.0f} s)",
                  file=sys.stderr)  # fmt: skip
    _print(args, [done[(*j, proxy(j[1]))] for j in jobs])


def _print(args: argparse.Namespace, records: list[dict]) -> None:
    table = load_benchmark(args.data_dir / "nb201" / "nb201_accuracy.csv", get_space("nb201"))
    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"Machine: {os.cpu_count()} cores, {args.jobs} searches at a time, "
          f"{args.threads or 'cores // jobs'} thread(s) each; "
          f"date {datetime.date.today()}\n")  # fmt: skip
    print("| algorithm | dataset | test accuracy (mean ± std) | per seed | search s (mean) "
          "| evaluations | published |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str, str | None], list[dict]] = {}
    for record in records:
        if record["space"] == "nb201":
            key = (record["algo"], record["dataset"], record.get("proxy"))
            groups.setdefault(key, []).append(record)
    for (algo, dataset, _), group in groups.items():
        accuracy = dict(zip(table.archs, table.values(f"{dataset}_test_200ep"), strict=True))
        values = [accuracy[r["arch"]] for r in group]
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        name = f"{algo} ({group[0]['proxy']})" if "proxy" in group[0] else algo
        print(f"| {name} | {dataset} | {statistics.fmean(values):.2f} ± {spread:.2f} | "
              f"{', '.join(f'{v:.2f}' for v in values)} | "
              f"{statistics.fmean(r['seconds'] for r in group):.0f} | "
              f"{group[0]['evaluations']} | {PUBLISHED.get((algo, dataset), '-')} |")  # fmt: skip
    print()
    for record in records:
        if record["space"] == "nb201":
            print(
                f"- {record['algo']} {record['dataset']} seed {record['seed']}: `{record['arch']}`"
            )
        else:
            print(f"- DARTS {record['algo']}: {record['params'] / 1e6:.2f} M parameters, "
                  f"{record['seconds']:.0f} s: `{record['arch']}`")  # fmt: skip


if __name__ == "__main__":
    main()
