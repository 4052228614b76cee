"""AZ-NAS and VKDNW reproductions, and honest ensemble selection, on the fixed NB201 sample.

Reads scores that ``benchmarks/correlation.py`` wrote into one or more ``--store`` files (the
fixed 1000-architecture sample, ``sample(1000, seed=0)`` of ``nb201_accuracy.csv``, seed 0, the
target's own dataset) and prints Markdown tables; it scores nothing itself. Every table uses only
the architectures that have every score it needs, and says how many (``n``).

1. Single proxies and fixed ensembles (``azn``, AZ-NAS + SynFlow, ``vkdnw_agg``, ...) on the same
   architectures, beside the published figures: Spearman, Kendall, nDCG (VKDNW's, top 10%) and
   top-10% precision with 95% bootstrap intervals.
2. Honest selection (:func:`trainfree.evaluate.selection.select_ensemble`): members chosen on
   the first ``--select-on`` architectures (in sample order), every number reported on the
   disjoint rest, next to the fixed ensembles and #params / FLOPs on the same held-out set.
   Once over every candidate, once over the candidates an architecture can afford within
   ``--budget`` seconds.

Cost: the mean seconds per architecture stored with each score (the harness's own timing, with
the network's preparation), as measured in the run that wrote it; on a loaded machine they are
upper bounds. ``--quiet-costs`` gives quiet-machine seconds for the budget instead.

Example::

    python benchmarks/ensembles.py --store .gl/nb201_azn.sqlite --store .gl/nb201_vkdnw.sqlite \\
        --target cifar10_test_200ep --select-on 0.4
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from trainfree.data import default_data_dir
from trainfree.evaluate import load_benchmark
from trainfree.evaluate.selection import evaluate_on, select_ensemble
from trainfree.proxies import get_proxy
from trainfree.proxies.ensemble import NAMED_ENSEMBLES
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space

FIXED_SAMPLE = 1000
MIN_TABLE = 10  # fewer architectures than this make no table
AZN = NAMED_ENSEMBLES["azn"].components
FIXED = {
    "azn": AZN,
    "AZ-NAS + SynFlow": (*AZN, "synflow"),
    "vkdnw_agg": NAMED_ENSEMBLES["vkdnw_agg"].components,
    "near+meco+synflow": ("near", "meco", "synflow"),
}
#: Published NB201 figures, Spearman / Kendall / nDCG, on all architectures: AZ-NAS's paper
#: (azn, AZ-NAS + SynFlow: its Table 5, Kendall only) and VKDNW's Table 1 (the rest, including
#: its own reproduction of AZ-NAS, "azn (VKDNW's run)").
PUBLISHED = {
    "cifar10": {
        "azn": "0.913 / 0.741 / - (VKDNW's run: 0.892 / 0.712 / 0.749)",
        "AZ-NAS + SynFlow": "- / 0.776 / -",
        "vkdnw_agg": "0.919 / 0.750 / 0.785",
        "vkdnw": "0.815 / 0.618 / 0.751",
        "flops": "0.799 / 0.623 / 0.745",
        "synflow": "0.758 / 0.561 / 0.709",
        "jacov": "0.800 / 0.616 / 0.540",
        "naswot": "0.762 / 0.571 / 0.607",
    },
    "cifar100": {
        "azn": "0.900 / 0.723 / - (VKDNW's run: 0.880 / 0.696 / 0.549)",
        "AZ-NAS + SynFlow": "- / 0.758 / -",
        "vkdnw_agg": "0.919 / 0.753 / 0.636",
        "vkdnw": "0.829 / 0.634 / 0.617",
        "flops": "0.763 / 0.586 / 0.576",
        "synflow": "0.750 / 0.553 / 0.594",
        "jacov": "0.820 / 0.639 / 0.402",
        "naswot": "0.799 / 0.607 / 0.475",
    },
}
METRICS = ("spearman", "kendall", "ndcg", "top10pct_precision")


def load_scores(
    stores: Sequence[Path], archs: Sequence[str], dataset: str, seed: int
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """``{proxy: {arch: value}}`` of the ok scores and ``{proxy: mean seconds}``."""
    wanted = set(archs)
    values: dict[str, dict[str, float]] = {}
    seconds: dict[str, list[float]] = {}
    for path in stores:
        with ResultStore(path) as store:
            for row in store.rows(space="nb201", status="ok"):
                if row["arch"] in wanted and row["dataset"] == dataset and row["seed"] == seed:
                    values.setdefault(row["proxy"], {})[row["arch"]] = float(row["value"])
                    seconds.setdefault(row["proxy"], []).append(float(row["seconds"] or 0.0))
    return values, {p: float(np.mean(s)) for p, s in seconds.items()}


def complete(values: Mapping[str, Mapping[str, float]], archs: Sequence[str],
             proxies: Sequence[str]) -> list[str]:  # fmt: skip
    """The architectures (sample order) that have a score of every proxy."""
    return [a for a in archs if all(a in values.get(p, {}) for p in proxies)]


def cell(stats: dict, name: str) -> str:
    low, high = stats[f"{name}_ci"]
    return f"{stats[name]:.3f} [{low:.3f}, {high:.3f}]"


def row(label: str, stats: dict, cost: float, published: str = "") -> str:
    cells = " | ".join(cell(stats, m) for m in METRICS)
    return f"| {label} | {cells} | {cost:.2f} | {stats['n']} |" + (f" {published} |")


HEADER = (
    "| {what} | Spearman | Kendall | nDCG | top-10% precision | s/arch | n | published "
    "Spearman / Kendall / nDCG |\n|---|---|---|---|---|---|---|---|"
)


def table(title: str, entries: dict[str, tuple[str, ...]], values, archs, truth, seconds,
          published: Mapping[str, str], n_boot: int) -> None:  # fmt: skip
    """Every entry on the architectures ``archs`` (all of which have all its scores)."""
    signs = {p: get_proxy(p).higher_is_better for members in entries.values() for p in members}
    arrays = {p: np.array([values[p][a] for a in archs]) for p in signs}
    index = np.arange(len(archs))
    print(f"### {title} ({len(archs)} architectures)\n")
    print(HEADER.format(what="proxy or ensemble"))
    for label, members in entries.items():
        stats = evaluate_on(arrays, signs, members, truth, index, n_boot=n_boot)
        cost = sum(seconds[m] for m in members)
        print(row(label, stats, cost, published.get(label, "-")))
    print()


def selection_section(label: str, candidates: Sequence[str], values, archs, truth, seconds,
                      args, budget: float | None = None) -> None:  # fmt: skip
    """Honest selection over ``candidates``; fixed ensembles and size rows on the held-out set."""
    costs = args.quiet_costs or seconds
    wanted = {*candidates, *sum(FIXED.values(), ()), "params", "flops"}
    present = [p for p in wanted if any(a in values.get(p, {}) for a in archs)]
    signs = {p: get_proxy(p).higher_is_better for p in present}
    arrays = {p: np.array([values[p].get(a, np.nan) for a in archs]) for p in present}
    n_select = args.select_on if args.select_on >= 1 else round(args.select_on * len(archs))
    n_select = int(n_select)
    usable = [c for c in candidates if budget is None or costs[c] <= budget]
    result = select_ensemble({c: arrays[c] for c in candidates}, signs, truth,
                             select_on=n_select, seed=args.split_seed, method="azlog",
                             criterion=args.criterion, max_size=args.max_size, costs=costs,
                             budget=budget, n_boot=args.n_boot)  # fmt: skip
    print(f"### Honest selection, {label}: chosen on {len(result.selection_index)} "
          f"architectures, reported on the other {len(result.held_out_index)}\n")  # fmt: skip
    print(f"Candidates: {', '.join(usable)}. Criterion: {args.criterion} on the selection set "
          f"(there {result.selection_value:.3f}). Chosen: **{'+'.join(result.members)}** "
          f"(`ensemble[azlog]:{'+'.join(result.members)}`).\n")  # fmt: skip
    print(HEADER.format(what="on the held-out architectures"))
    chosen_cost = sum(costs[m] for m in result.members)
    print(row(f"chosen: {'+'.join(result.members)}", result.held_out, chosen_cost, "-"))
    for name, members in FIXED.items():
        held = result.held_out_index
        if all(m in arrays and np.isfinite(arrays[m][held]).all() for m in members):
            stats = evaluate_on(arrays, signs, members, truth, result.held_out_index,
                                n_boot=args.n_boot)  # fmt: skip
            cost = sum(costs.get(m, np.nan) for m in members)
            print(row(name, stats, cost, "fixed, not chosen here"))
    for single in ("params", "flops"):
        stats = evaluate_on(arrays, signs, (single,), truth, result.held_out_index,
                            n_boot=args.n_boot)  # fmt: skip
        print(row(single, stats, costs.get(single, np.nan), "size baseline"))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, action="append", required=True)
    parser.add_argument("--target", default="cifar10_test_200ep")
    parser.add_argument("--seed", type=int, default=0, help="the scores' seed")
    parser.add_argument(
        "--select-on",
        type=float,
        default=0.4,
        help="architectures to choose on: a count, or a fraction if < 1",
    )
    parser.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="draw the selection set at random (default: the first ones)",
    )
    parser.add_argument("--criterion", default="kendall")
    parser.add_argument("--max-size", type=int, default=None)
    parser.add_argument("--budget", type=float, default=1.0, help="s/arch of the cheap pick")
    parser.add_argument(
        "--quiet-costs",
        type=json.loads,
        default=None,
        help='JSON {"proxy": seconds} used for costs instead of the stored ones',
    )
    parser.add_argument(
        "--reverse",
        action="store_true",
        help="also choose on the last architectures and report on the first ones",
    )
    parser.add_argument("--candidates", default=None, help="comma-separated; default: all")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    dataset = args.target.split("_")[0]
    table_ = load_benchmark(args.data_dir / "nb201" / "nb201_accuracy.csv", get_space("nb201"))
    sample = table_.sample(FIXED_SAMPLE, seed=0)
    values, seconds = load_scores(args.store, sample, dataset, args.seed)
    print(
        f"Stores: {', '.join(map(str, args.store))}; target {args.target}; "
        f"proxies found: {', '.join(f'{p} ({len(v)})' for p, v in sorted(values.items()))}\n"
    )
    published = PUBLISHED.get(dataset, {})

    def truth_of(archs: Sequence[str]) -> np.ndarray:
        return np.array([table_.lookup(a, args.target) for a in archs], dtype=float)

    singles = sorted(p for p in values if p not in ("vkdnw_entropy",))
    if args.candidates:
        singles = args.candidates.split(",")
    base = [p for p in singles if not p.startswith("vkdnw")]
    archs = complete(values, sample, [*base, *AZN, "synflow", "params", "flops"])
    entries = {p: (p,) for p in base}
    entries.update({k: v for k, v in FIXED.items() if all(m in base for m in v)})
    table(f"{args.target}: single proxies and fixed ensembles", entries, values, archs,
          truth_of(archs), seconds, published, args.n_boot)  # fmt: skip
    if len(complete(values, sample, FIXED["vkdnw_agg"])) >= MIN_TABLE:
        vk_archs = complete(values, sample, [*FIXED["vkdnw_agg"], "vkdnw_entropy", "params",
                                              "flops", "synflow"])  # fmt: skip
        vk_entries = {p: (p,) for p in ("vkdnw", "vkdnw_entropy", "jacov", "params", "flops")}
        vk_entries.update({"vkdnw_agg": FIXED["vkdnw_agg"], "azn": AZN})
        table(f"{args.target}: VKDNW", vk_entries, values, vk_archs, truth_of(vk_archs),
              seconds, published, args.n_boot)  # fmt: skip
    selection_section("every candidate", base, values, archs, truth_of(archs), seconds, args)
    if args.reverse:  # choose on the last architectures, report on the first (VKDNW's)
        back = archs[::-1]
        selection_section("every candidate, chosen on the last architectures", base, values,
                          back, truth_of(back), seconds, args)  # fmt: skip
    selection_section(f"within {args.budget:g} s/arch", base, values, archs, truth_of(archs),
                      seconds, args, budget=args.budget)  # fmt: skip


if __name__ == "__main__":
    main()
