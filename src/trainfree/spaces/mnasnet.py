"""The MnasNet/EfficientNet-B0 block space of Accel-NASBench (Ahmad et al., "Accel-NASBench:
Sustainable Benchmarking for Accelerator-Aware NAS", 2024; github.com/afzalxo/Accel-NASBench,
network code in github.com/afzalxo/ANB-DatasetCollection ``models/accelbenchnet.py``).

EfficientNet-B0's skeleton (Tan & Le, ICML 2019) with 7 searchable blocks of inverted-residual
(MBConv) layers. Per block: expansion ``e`` in {1, 4, 6}, depthwise kernel ``k`` in {3, 5},
layers ``l`` in {1, 2, 3} ({1, 2, 3, 4} for the sixth block, as in Accel-NASBench's
configuration space and its 5,138 trained networks; EfficientNet-B0 itself has 4 layers there)
and squeeze-and-excitation on or off. Fixed skeleton: stem 3x3 conv stride 2 to 32 channels;
blocks of widths 16, 24, 40, 80, 112, 192, 320 with first-layer strides 1, 2, 2, 2, 1, 2, 1;
head 1x1 conv to 1280, global average pool, linear. Architectures are written block by block,
``e6k3l1-e4k5l2se-...`` (``se`` when the block uses squeeze-and-excitation), the form of
Accel-NASBench's table. The space has 3^7 * 2^7 * 3^6 * 4 * 2^7 = 104,485,552,128 networks.

Layer details follow the benchmark's network: expanded width ``make_divisible(c_in * e, 8)``
with no expansion conv when that equals ``c_in`` (``e = 1``); squeeze-and-excitation after the
depthwise conv, squeezing to ``max(1, c_in // 4)`` channels with biased 1x1 convs; identity
shortcut when stride 1 and ``c_in == c_out``. Accel-NASBench trained with ReLU (and a hard-sigmoid
SE gate), so ``activation="relu"`` is the default; ``"silu"`` (sigmoid gate) is EfficientNet's.
Dropout before the classifier and stochastic depth are training regularisers without
parameters or MACs and are left out: a proxy scores the network, not its training recipe.
PyTorch default initialisation.

MACs and parameters follow Accel-NASBench's count (thop 0.1.1 on one 224x224 image, 1000
classes; :mod:`trainfree.complexity`, convention ``"thop"``): convolutions and the classifier
plus thop's charges for BatchNorm and average pooling. They match ``macs_millions`` and
``params_millions`` of every row of the benchmark's table (``benchmarks/macro_check.py``).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from trainfree.errors import TrainfreeError
from trainfree.spaces import register_space
from trainfree.spaces.base import InvalidArchError
from trainfree.spaces.macro import (
    Conv,
    Head,
    InvertedResidual,
    Plan,
    PlannedSpace,
    check_activation,
    check_positive,
    make_divisible,
    network_builder,
)

EXPANSIONS: tuple[int, ...] = (1, 4, 6)
KERNELS: tuple[int, ...] = (3, 5)
LAYERS: tuple[tuple[int, ...], ...] = ((1, 2, 3),) * 5 + ((1, 2, 3, 4), (1, 2, 3))
SE: tuple[bool, ...] = (False, True)
NUM_BLOCKS = 7
STEM_CHANNELS = 32
WIDTHS: tuple[int, ...] = (16, 24, 40, 80, 112, 192, 320)
STRIDES: tuple[int, ...] = (1, 2, 2, 2, 1, 2, 1)
HEAD_FACTOR = 4  # head width = 4 x the last block's width (1280)

_BLOCK_RE = re.compile(r"^e(\d+)k(\d+)l(\d+)(se)?$")


@dataclass(frozen=True)
class Block:
    """One searchable block: expansion, kernel, number of layers, squeeze-and-excitation."""

    expansion: int
    kernel: int
    layers: int
    se: bool

    def __str__(self) -> str:
        return f"e{self.expansion}k{self.kernel}l{self.layers}{'se' if self.se else ''}"


def _choices(index: int) -> list[Block]:
    """Every choice of block ``index`` (0-based), in the order of the module constants."""
    return [
        Block(e, k, n, se)
        for e, k, n, se in itertools.product(EXPANSIONS, KERNELS, LAYERS[index], SE)
    ]


def parse_arch(arch: str) -> tuple[Block, ...]:
    """The 7 blocks of ``arch``; raise :class:`InvalidArchError` (one line) if malformed."""
    if not isinstance(arch, str):
        raise InvalidArchError(f"mnasnet arch must be a string, got {type(arch).__name__}")
    parts = arch.strip().split("-")
    if len(parts) != NUM_BLOCKS:
        raise InvalidArchError(
            f"mnasnet arch needs {NUM_BLOCKS} blocks joined by '-', got {len(parts)} in {arch!r}"
        )
    blocks = []
    for index, part in enumerate(parts):
        match = _BLOCK_RE.match(part)
        if match is None:
            raise InvalidArchError(
                f"mnasnet block {index + 1} {part!r} must look like e6k3l2 or e6k3l2se"
            )
        block = Block(int(match[1]), int(match[2]), int(match[3]), match[4] is not None)
        if block.expansion not in EXPANSIONS or block.kernel not in KERNELS:
            raise InvalidArchError(
                f"mnasnet block {index + 1} {part!r}: expansion must be one of {EXPANSIONS}, "
                f"kernel one of {KERNELS}"
            )
        if block.layers not in LAYERS[index]:
            raise InvalidArchError(
                f"mnasnet block {index + 1} {part!r}: layers must be one of {LAYERS[index]}"
            )
        blocks.append(block)
    return tuple(blocks)


def format_arch(blocks: tuple[Block, ...]) -> str:
    return "-".join(str(b) for b in blocks)


def plan(
    arch: str,
    *,
    num_classes: int = 1000,
    in_channels: int = 3,
    width_mult: float = 1.0,
    activation: str = "relu",
) -> Plan:
    """The pieces of ``arch``'s network (defaults: the benchmark's, 1000 classes);
    ``width_mult`` scales every width (rounded with
    :func:`~trainfree.spaces.macro.make_divisible`, as EfficientNet's width multiplier; 0.25
    gives a thin copy for tests); ``activation`` is ``"relu"`` or ``"silu"``."""
    check_positive(
        "mnasnet", num_classes=num_classes, in_channels=in_channels, width_mult=width_mult
    )
    check_activation(activation)
    blocks = parse_arch(arch)
    c_in = make_divisible(STEM_CHANNELS * width_mult)
    stem = Conv(in_channels, c_in, 3, 2, activation)
    layers = []
    for block, width, stride in zip(blocks, WIDTHS, STRIDES, strict=True):
        c_out = make_divisible(width * width_mult)
        for layer in range(block.layers):
            layers.append(
                InvertedResidual(
                    c_in,
                    make_divisible(c_in * block.expansion),
                    c_out,
                    block.kernel,
                    stride if layer == 0 else 1,
                    squeeze=max(1, c_in // 4) if block.se else 0,
                    activation=activation,
                )
            )
            c_in = c_out
    head = Head(c_in, HEAD_FACTOR * c_in, num_classes, activation)
    return Plan(stem, tuple(layers), head)


@register_space
class MnasNetSpace(PlannedSpace):
    """MnasNet/EfficientNet-B0 blocks of Accel-NASBench (ImageNet, 224x224)."""

    name = "mnasnet"
    #: Accel-NASBench's ImageNet top-1, whatever data the proxies see.
    benchmarks: ClassVar[Mapping[str, tuple[str, str]]] = {
        "*": ("mnasnet/accel_nasbench_imagenet.csv", "imagenet_val_top1_proxified")
    }
    default_image_size = 224
    default_num_classes = 1000
    complexity_convention = "thop"

    def canonical(self, arch: str) -> str:
        return format_arch(parse_arch(arch))

    def size(self) -> int:
        total = 1
        for index in range(NUM_BLOCKS):
            total *= len(_choices(index))
        return total

    def enumerate(self) -> Iterator[str]:
        """Every architecture, block 1's choice varying slowest (about 1e11: lazy)."""
        return (
            format_arch(blocks)
            for blocks in itertools.product(*(_choices(i) for i in range(NUM_BLOCKS)))
        )

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """``n`` distinct architectures, each block's choices uniform and independent."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TrainfreeError(f"mnasnet samples a non-negative number of networks, not {n!r}")
        rng = random.Random(seed)
        choices = [_choices(i) for i in range(NUM_BLOCKS)]
        seen: dict[str, None] = {}
        while len(seen) < n:
            seen[format_arch(tuple(rng.choice(c) for c in choices))] = None
        return list(seen)

    def neighbours(self, arch: str) -> list[str]:
        """Architectures that differ in one choice (expansion, kernel, layers or SE) of one
        block."""
        blocks = parse_arch(arch)
        out = []
        for index, block in enumerate(blocks):
            options = [
                *(replace(block, expansion=e) for e in EXPANSIONS),
                *(replace(block, kernel=k) for k in KERNELS),
                *(replace(block, layers=n) for n in LAYERS[index]),
                replace(block, se=not block.se),
            ]
            out += [
                format_arch((*blocks[:index], b, *blocks[index + 1 :]))
                for b in options
                if b != block
            ]
        return out

    def mutate(self, arch: str, rng: random.Random) -> str:
        """A uniformly chosen neighbour (one choice of one block changed)."""
        return rng.choice(self.neighbours(arch))

    build = network_builder(plan)
    plan = staticmethod(plan)
