"""The DARTS space against NAS-Bench-301 as NAS-Bench-Suite-Zero scored it (issue 18).

Reads NASLib's ``zc_nasbench301.json`` (725 DARTS genotypes keyed by NASLib's compact form, with
``val_accuracy`` and NASLib's zero-cost scores; Krishnakumar et al., NeurIPS 2022 Datasets and
Benchmarks) and runs one of four checks on the space (``--space``, default ``darts``):

* ``params``: builds every genotype (or the first ``--n``) and compares our trainable-parameter
  count with NASLib's ``params`` (tensorwatch's count in millions, 6 decimals, so the count is
  exact); prints the number of mismatches and the first few.
* ``flops``: the same for NASLib's ``flops`` (megaflops, 6 decimals), counted in the convention
  of tensorwatch, which NASLib used: one FLOP per multiply-accumulate of convolutions and linear
  layers plus elementwise counts for BatchNorm, ReLU and pooling (the ``flops`` proxy counts
  2 per multiply-accumulate of convolutions and matrix products only, so it ranks alike but
  not identically).
* ``scores``: scores ``--proxies`` on the first ``--n`` of a permutation of the 725 (seeded by
  ``--sample-seed``, so a smaller run is a prefix of a larger one), with one scoring seed
  (``--seed``: batch and initialisation) for every architecture, on CIFAR-10.
  Per proxy: Spearman and Kendall tau of our score against NASLib's score of the same proxy
  (faithfulness; ``nwot`` for ``naswot``), then Spearman, Kendall and top-10% precision of ours
  and of NASLib's score against ``val_accuracy`` on the same architectures, and our mean
  seconds per architecture (as measured in this run; under load, upper bounds).
  ``--agreement-seed S`` adds the Spearman between our scores with seeds ``--seed`` and ``S``
  (another batch and initialisation): the agreement a proxy's own noise allows, which bounds
  its agreement with NASLib's single-batch scores. Scores go into the SQLite ``--store`` as
  each finishes, so an interrupted run resumes.
* ``naslib``: NASLib's own scores against ``val_accuracy`` on all entries (nothing is scored),
  the reference for the ``scores`` table on a subset.

Run from the repository root, e.g.::

    python benchmarks/nb301_check.py params
    python benchmarks/nb301_check.py scores --proxies params,flops,synflow --n 200 \\
        --store runs/nb301.sqlite
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainfree.data import default_data_dir
from trainfree.errors import TrainfreeError
from trainfree.evaluate import correlate, load_benchmark
from trainfree.evaluate.tables import BenchmarkTable
from trainfree.proxies.ensemble import Objective
from trainfree.run.runner import (
    RunReport,
    component_names,
    progress_printer,
    resolve_proxies,
    score_many,
)
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space
from trainfree.spaces.darts import NB301_NETWORK

NB301 = Path("darts") / "naslib_zc_nasbench301.json"
NASLIB_NAMES = {"naswot": "nwot"}
DATASET = "cifar10"


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def _leaf_flops(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    """tensorwatch's FLOPs of one leaf module call (its ``torchstat`` convention): one per
    convolution or linear multiply-accumulate, one per element for ReLU and (twice if affine)
    BatchNorm, kernel-size per output element for pools; other modules count nothing."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        weight_per_output = module.weight[0].numel()  # (in / groups) * kh * kw, or in_features
        return weight_per_output * out.numel()
    if isinstance(module, nn.BatchNorm2d):
        return x.numel() * (2 if module.affine else 1)
    if isinstance(module, nn.ReLU):
        return x.numel()
    if isinstance(module, nn.AvgPool2d | nn.MaxPool2d):
        kh, kw = _pair(module.kernel_size)
        return out.numel() * kh * kw
    if isinstance(module, nn.AdaptiveAvgPool2d):
        (h, w), (oh, ow) = x.shape[2:], out.shape[2:]
        rows = [math.ceil((i + 1) * h / oh) - math.floor(i * h / oh) + 1 for i in range(oh)]
        cols = [math.ceil((j + 1) * w / ow) - math.floor(j * w / ow) + 1 for j in range(ow)]
        return x.shape[0] * x.shape[1] * sum(rows) * sum(cols)
    return 0


def tensorwatch_flops(model: nn.Module, shape: tuple[int, ...]) -> int:
    """FLOPs of ``model`` on one random input of ``shape`` counted as NASLib's ``flops`` does
    (tensorwatch's model statistics: a forward hook on each leaf module, eval mode)."""
    counts: dict[int, int] = {}
    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [
        m.register_forward_hook(lambda m, i, o: counts.__setitem__(id(m), _leaf_flops(m, i[0], o)))
        for m in leaves
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.rand(shape))
    finally:
        for hook in hooks:
            hook.remove()
    return sum(counts.values())


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


#: NASLib fields checked exactly: our count per network, in NASLib's units of one million.
EXACT: dict[str, Callable[[nn.Module], int]] = {
    "params": _n_params,
    "flops": lambda model: tensorwatch_flops(model, (1, 3, 32, 32)),
}


def check_exact(path: Path, field: str, space_name: str, n: int | None) -> int:
    """Compare our count with NASLib's ``field`` (millions, 6 decimals: an exact count) on the
    first ``n`` entries; print the result and return the number of mismatches."""
    entries = json.loads(path.read_text())[DATASET]
    space = get_space(space_name)
    keys = list(entries)[:n]
    mismatches = []
    for key in keys:
        ours = EXACT[field](space.build(space.from_naslib(key)))
        theirs = round(entries[key][field]["score"] * 1e6)
        if ours != theirs:
            mismatches.append(f"  {key}: ours {ours}, NASLib {theirs}")
    print(f"{field}, space {space.name}: {len(keys) - len(mismatches)} of {len(keys)} equal")
    print("\n".join(mismatches[:5]))
    return len(mismatches)


def _score(
    space: str, archs: list[str], proxies: list[Objective], args: argparse.Namespace, seed: int
) -> RunReport:
    config = ScoreConfig(dataset=DATASET, data_dir=args.data_dir, seed=seed)
    total = len(archs) * len(component_names(proxies))
    progress = progress_printer(total, label=f"seed {seed}: ")
    with ResultStore(args.store) as store:
        report = score_many(space, archs, proxies, config, store=store, progress=progress)
    for failure in report.failures:
        print(f"  failed {failure.proxy} on {failure.task.arch}: {failure.error}", file=sys.stderr)
    return report


def _stats(scores: np.ndarray, truth: np.ndarray, higher: bool = True) -> dict[str, float] | None:
    try:
        return correlate(scores, truth, higher_is_better=higher)
    except TrainfreeError:
        return None


def _cells(stats: dict[str, float] | None, keys: tuple[str, ...]) -> str:
    if stats is None:
        return " - |" * len(keys)
    return "".join(f" {stats[k]:.3f} |" for k in keys)


def score_table(table: BenchmarkTable, args: argparse.Namespace) -> None:
    """Print faithfulness and accuracy correlations of ``--proxies`` (single proxies or rank
    ensembles; an ensemble has no NASLib column) on ``--n`` genotypes."""
    archs = table.sample(len(table), seed=args.sample_seed)[: args.n]
    objectives = resolve_proxies(args.proxies)
    report = _score(args.space, archs, objectives, args, args.seed)
    other = None
    if args.agreement_seed is not None:
        other = _score(args.space, archs, objectives, args, args.agreement_seed)
    accuracy = np.array([table.lookup(a, f"{DATASET}/val_accuracy") for a in archs], dtype=float)
    corr = ("spearman", "kendall")
    acc = ("spearman", "kendall", "top10pct_precision")
    print(f"### {args.space}: {len(archs)} NB301 genotypes, {DATASET}, seed {args.seed}\n")
    header = (
        "| proxy | vs NASLib: Spearman | Kendall | vs val_accuracy, ours: Spearman | Kendall "
        "| top-10% | NASLib's: Spearman | Kendall | top-10% | s/arch | n |"
    )
    extra = f" Spearman seed {args.seed} vs {args.agreement_seed} |" if other else ""
    print(header + extra)
    print("|---" * (header.count("|") - 1 + extra.count("|")) + "|")
    for objective in objectives:
        name = objective.name
        ours = report.values(name, archs)
        column = f"{DATASET}/{NASLIB_NAMES.get(name, name)}"
        theirs = (
            np.array([table.lookup(a, column) for a in archs], dtype=float)
            if column in table.targets()
            else np.full(len(archs), np.nan)
        )
        row = f"| {name} |" + _cells(_stats(ours, theirs), corr)
        row += _cells(_stats(ours, accuracy, objective.higher_is_better), acc)
        row += _cells(_stats(theirs, accuracy), acc)  # NASLib stores higher-is-better scores
        row += f" {report.seconds_per_arch(objective):.2f} | {int(np.isfinite(ours).sum())} |"
        if other is not None:
            row += _cells(_stats(ours, other.values(name, archs)), ("spearman",))
        print(row)
    print()


def naslib_table(table: BenchmarkTable) -> None:
    """Spearman, Kendall and top-10% precision of each NASLib score against ``val_accuracy``."""
    accuracy = table.values(f"{DATASET}/val_accuracy")
    fields = sorted(
        t.split("/")[1] for t in table.targets() if t.count("/") == 1 and "val_accuracy" not in t
    )
    print(f"### NASLib's scores vs {DATASET}/val_accuracy, all {len(table)} genotypes\n")
    print("| NASLib score | Spearman | Kendall | top-10% | NASLib's s/arch |")
    print("|---|---|---|---|---|")
    for field in fields:
        stats = _stats(table.values(f"{DATASET}/{field}"), accuracy)
        seconds = np.nanmean(table.values(f"{DATASET}/{field}/time"))
        acc = ("spearman", "kendall", "top10pct_precision")
        print(f"| {field} |{_cells(stats, acc)} {seconds:.2f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=(*EXACT, "scores", "naslib"))
    parser.add_argument(
        "--space", default=NB301_NETWORK, help="the space or a variant (default: NASLib's network)"
    )
    parser.add_argument("--proxies", default="params,flops,synflow")
    parser.add_argument("--n", type=int, help="first N genotypes (default: all 725)")
    parser.add_argument("--seed", type=int, default=0, help="scoring seed (batch and init)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the permutation")
    parser.add_argument("--agreement-seed", type=int)
    parser.add_argument("--store", type=Path, default=Path("runs/nb301.sqlite"))
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    if args.data_dir is None:
        raise SystemExit("error: no data folder: set TRAINFREE_DATA or pass --data-dir")
    path = args.data_dir / NB301
    print(f"Command: `{' '.join(['python', *sys.argv])}`  ")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; "
          f"date {datetime.date.today()}\n")  # fmt: skip
    if args.check in EXACT:
        sys.exit(1 if check_exact(path, args.check, args.space, args.n) else 0)
    table = load_benchmark(path, get_space(args.space))
    if args.check == "naslib":
        naslib_table(table)
        return
    args.store.parent.mkdir(parents=True, exist_ok=True)
    score_table(table, args)


if __name__ == "__main__":
    main()
