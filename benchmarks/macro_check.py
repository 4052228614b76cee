"""MACs/params of the block-level spaces against every row of their benchmarks (issue 20).

* ``mnasnet``: every row of Accel-NASBench's table (``$TRAINFREE_DATA/mnasnet/
  accel_nasbench_imagenet.csv``): ``macs_millions`` and ``params_millions`` against
  ``MnasNetSpace.complexity`` (224x224, 1000 classes, thop's convention), compared exactly as
  decimals (the table gives at most 6 decimals of millions, i.e. exact counts).
* ``nb_macro``: every entry of ``$TRAINFREE_DATA/macro/nas-bench-macro_cifar10.json``:
  ``params`` and ``flops`` (multiply-accumulates) against ``params`` and ``macs``.
* ``channel_macro``: with ``--channel-bench DIR`` (a clone of github.com/xiusu/Channel-Bench-Macro,
  or a bare git directory of it, read with ``git show HEAD:...``), every entry of
  ``Results_MobileNet.json`` and ``Results_ResNet.json`` against
  ``channel_macro[family=...]``. Only ``params`` and ``flops`` are read; the accuracies are
  a held-out test and are not looked at.

Prints one Markdown table (space, entries, mismatches, seconds) and the first mismatches; exits
non-zero on any mismatch. Run from the repository root::

    python benchmarks/macro_check.py --channel-bench /path/to/Channel-Bench-Macro
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from trainfree.data import default_data_dir
from trainfree.spaces import SearchSpace, get_space

Row = tuple[str, int, int]  # arch, params, macs


def accel_rows(data: Path) -> Iterator[Row]:
    with open(data / "mnasnet" / "accel_nasbench_imagenet.csv") as f:
        for row in csv.DictReader(f):
            params, macs = (Decimal(row[k]) * 10**6 for k in ("params_millions", "macs_millions"))
            if params != int(params) or macs != int(macs):
                raise SystemExit(f"{row['arch']}: counts are not whole numbers; cannot compare")
            yield row["arch"], int(params), int(macs)


def macro_rows(data: Path) -> Iterator[Row]:
    with open(data / "macro" / "nas-bench-macro_cifar10.json") as f:
        table = json.load(f)
    for code, entry in table.items():
        yield code, entry["params"], entry["flops"]


def channel_rows(repo: Path, family: str) -> Iterator[Row]:
    name = f"Results_{'MobileNet' if family == 'mobilenet' else 'ResNet'}.json"
    if (repo / name).is_file():
        text = (repo / name).read_text()
    else:
        text = subprocess.run(
            ["git", "--git-dir", str(repo), "show", f"HEAD:{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    for code, entry in json.loads(text).items():
        yield code, entry["params"], entry["flops"]


def check(space: SearchSpace, rows: Iterator[Row]) -> tuple[int, list[str], float]:
    start = time.perf_counter()
    count, bad = 0, []
    for arch, params, macs in rows:
        got = space.complexity(arch)
        count += 1
        if (got["params"], got["macs"]) != (params, macs):
            bad.append(f"{arch}: params {got['params']} vs {params}, macs {got['macs']} vs {macs}")
    return count, bad, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--channel-bench", type=Path, help="Channel-Bench-Macro clone or git dir")
    args = parser.parse_args()
    data = args.data_dir or Path(__file__).resolve().parents[1].parent / "shared" / "data"
    checks = [
        ("mnasnet", "Accel-NASBench", accel_rows(data)),
        ("nb_macro", "NAS-Bench-Macro", macro_rows(data)),
    ]
    if args.channel_bench:
        for family in ("mobilenet", "resnet"):
            name = f"channel_macro[family={family}]"
            checks.append((name, "Channel-Bench-Macro", channel_rows(args.channel_bench, family)))
    print("| space | benchmark | entries | mismatches | seconds |")
    print("|---|---|---:|---:|---:|")
    failures = []
    for name, bench, rows in checks:
        count, bad, seconds = check(get_space(name), rows)
        print(f"| `{name}` | {bench} | {count} | {len(bad)} | {seconds:.1f} |")
        failures += bad[:5]
    for line in failures:
        print(line)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
