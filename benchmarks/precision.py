"""How much the numerics move the seed proxies: float32 in NCHW and channels-last layouts against
the same computation in float64 (issue 8, ``ScoreConfig.memory_format``).

For each of ``--n`` NB201 architectures (``NB201Space.sample(n, seed=0)``) and each proxy, one
repeat is computed three times on the same network weights and batch (``prepare`` with seed 0,
CIFAR-10 from ``$TRAINFREE_DATA``): in float64 (network and batch converted), in float32 with
``memory_format="contiguous"`` and in float32 with ``"channels_last"``. Printed: the largest
relative difference of each float32 value from the float64 one, per layout, and between the two
layouts. Values only; ``benchmarks/speed.py`` measures time.

    python benchmarks/precision.py --n 3 --proxies intrain,near,gradalign,tenas_ntk
"""

from __future__ import annotations

import argparse
import sys

import torch

from trainfree.data.batch import Batch
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.run.scoring import ScoreConfig, prepare
from trainfree.spaces import get_space


def values(arch: str, proxy: str) -> dict[str, float]:
    """The proxy's value on ``arch`` in float64, float32 NCHW and float32 channels-last."""
    space, spec = get_space("nb201"), get_proxy(proxy)
    out = {}
    for label, layout in (
        ("float64", "contiguous"),
        ("nchw", "contiguous"),
        ("cl", "channels_last"),
    ):
        model, batch = prepare(space, arch, spec, ScoreConfig(memory_format=layout))
        if label == "float64":
            model = model.double()
            batch = Batch(batch.inputs.double(), batch.targets, batch.num_classes)
        out[label] = compute_proxy(spec, model, batch)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument(
        "--proxies", default="intrain,intrain_pr,intrain_grad,near,gradalign,tenas_ntk"
    )
    args = parser.parse_args()
    archs = get_space("nb201").sample(args.n, seed=0)
    print(f"Command: `python {' '.join(sys.argv)}`; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads\n")  # fmt: skip
    print("| proxy | archs | NCHW vs float64 | channels-last vs float64 | NCHW vs channels-last |")
    print("|---|---|---|---|---|")
    for proxy in args.proxies.split(","):
        rows = [values(arch, proxy) for arch in archs]

        def worst(a: str, b: str, rows: list[dict[str, float]] = rows) -> str:
            return f"{max(abs(r[a] / r[b] - 1) for r in rows):.1e}"

        print(f"| {proxy} | {len(rows)} | {worst('nchw', 'float64')} | {worst('cl', 'float64')} "
              f"| {worst('nchw', 'cl')} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
