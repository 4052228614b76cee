"""The NAS-Bench-201 search space (Dong & Yang, "NAS-Bench-201: Extending the Scope of
Reproducible Neural Architecture Search", ICLR 2020), identical to NATS-Bench's topology space.

A cell is a 4-node DAG; each of its 6 edges ``i -> j`` (``i < j``) carries one of 5 operations
and node ``j`` is the sum of its incoming edges; the cell outputs node 3. Architectures are written
in NB201's own string form::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

(node 1, node 2, node 3; ``op~i`` is the edge from node ``i``). There are 5**6 = 15,625 cells.

Three numberings meet here:

* the **string edge order** ``(0,1), (0,2), (1,2), (0,3), (1,3), (2,3)`` with ops in
  :data:`OPS` order, used for the op-index tuples of this module;
* the **official index** (0..15624) of the NB201/NATS-TSS benchmark files. NB201 generated it by
  listing all cells in ``itertools.product`` order over the string edge order (ops in :data:`OPS`
  order) and shuffling that list with ``random.seed(88); random.shuffle``; this module replays
  that shuffle (Python's ``random`` shuffle, unchanged since Python 3.2), so no benchmark file is
  needed; the tests check all 15,625 rows of the benchmark CSV;
* **NASLib's tuple** (NAS-Bench-Suite-Zero): op codes :data:`NASLIB_OPS` on the edges
  ``(1,2), (1,3), (1,4), (2,3), (2,4), (3,4)`` with nodes counted from 1, so tuple ``t`` is
  ``|t0~0|+|t1~0|t3~1|+|t2~0|t4~1|t5~2|``.

:func:`build_network` is NB201's evaluation network (``TinyNetwork`` with ``InferCell``): stem,
three stages of ``N`` cells of widths C, 2C, 4C joined by stride-2 ResNet basic blocks, and a
BN-ReLU-pool-linear head. :class:`NB201Supernet` is the DARTS-style one-shot model over the same
op and cell modules, used by the pruning searches (TE-NAS, FreeDARTS/ZEROS).
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

import torch
from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.spaces import register_space
from trainfree.spaces.base import InvalidArchError, SearchSpace
from trainfree.spaces.pooling import AvgPool2d
from trainfree.spaces.supernet import Supernet

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4
EDGES: tuple[tuple[int, int], ...] = tuple(
    (src, dst) for dst in range(1, NUM_NODES) for src in range(dst)
)  # (source, target) in string order: (0,1), (0,2), (1,2), (0,3), (1,3), (2,3)
NUM_EDGES = len(EDGES)
SIZE = len(OPS) ** NUM_EDGES  # 15,625

NASLIB_OPS: tuple[str, ...] = (
    "skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3",
)  # fmt: skip
NASLIB_POSITION: tuple[int, ...] = (0, 1, 3, 2, 4, 5)  # string edge k = NASLib position [k]
OFFICIAL_SHUFFLE_SEED = 88  # NB201's generation script: random.seed(88); random.shuffle(archs)

Ops = tuple[int, ...]


# ----------------------------------------------------------------------------- strings


def format_arch(ops: Sequence[str | int]) -> str:
    """The NB201 string of 6 ops (names or :data:`OPS` indices) in string edge order."""
    names = [OPS[o] if isinstance(o, int) else o for o in ops]
    if len(names) != NUM_EDGES or any(n not in OPS for n in names):
        raise InvalidArchError(f"NB201 needs {NUM_EDGES} ops from {', '.join(OPS)}, got {ops!r}")
    nodes, k = [], 0
    for dst in range(1, NUM_NODES):
        nodes.append("|" + "|".join(f"{names[k + src]}~{src}" for src in range(dst)) + "|")
        k += dst
    return "+".join(nodes)


def _parse_node(text: str, dst: int) -> list[int]:
    """Op indices of node ``dst``'s edges, ordered by source node."""
    if len(text) < 2 or text[0] != "|" or text[-1] != "|":
        raise InvalidArchError(f"NB201 arch: node {dst} {text!r} must be written |op~i|...|")
    tokens = text[1:-1].split("|")
    if len(tokens) != dst:
        raise InvalidArchError(
            f"NB201 arch: node {dst} must have {dst} input edge(s), got {len(tokens)} in {text!r}"
        )
    by_source: dict[int, int] = {}
    for token in tokens:
        op, sep, src = token.partition("~")
        if not sep:
            raise InvalidArchError(f"NB201 arch: bad edge {token!r} (expected op~input)")
        if op not in OPS:
            raise InvalidArchError(f"NB201 arch: unknown op {op!r} (known: {', '.join(OPS)})")
        if not src.isdigit() or int(src) >= dst:
            raise InvalidArchError(
                f"NB201 arch: bad input index {src!r} in node {dst} (allowed 0..{dst - 1})"
            )
        if int(src) in by_source:
            raise InvalidArchError(f"NB201 arch: node {dst} takes input {src} twice")
        by_source[int(src)] = OPS.index(op)
    return [by_source[src] for src in range(dst)]


def parse_arch(arch: str) -> Ops:
    """Op indices (into :data:`OPS`) of the 6 edges in string order; raise
    :class:`InvalidArchError` on a malformed string. Surrounding whitespace is ignored and a
    node's edges may be listed in any order."""
    if not isinstance(arch, str):
        raise InvalidArchError(f"NB201 arch must be a string, got {type(arch).__name__}")
    nodes = arch.strip().split("+")
    if len(nodes) != NUM_NODES - 1:
        raise InvalidArchError(
            f"NB201 arch: expected {NUM_NODES - 1} nodes separated by '+', got {len(nodes)} "
            f"in {arch!r}"
        )
    return tuple(op for dst, node in enumerate(nodes, 1) for op in _parse_node(node, dst))


# ----------------------------------------------------------------------------- numberings


def _product_rank(ops: Ops) -> int:
    """Position of ``ops`` in ``itertools.product(range(5), repeat=6)`` order."""
    rank = 0
    for op in ops:
        rank = rank * len(OPS) + op
    return rank


@functools.cache
def _official_order() -> tuple[tuple[Ops, ...], dict[Ops, int]]:
    """NB201's official order (index -> ops) and its inverse, replayed from the seeded shuffle."""
    cells = list(itertools.product(range(len(OPS)), repeat=NUM_EDGES))
    random.Random(OFFICIAL_SHUFFLE_SEED).shuffle(cells)
    return tuple(cells), {ops: index for index, ops in enumerate(cells)}


_NASLIB_KEY_RE = re.compile(r"^\s*\(\s*(\d+(?:\s*,\s*\d+)*)\s*,?\s*\)\s*$")


def naslib_to_ops(key: str | Sequence[int]) -> Ops:
    """Op indices (string order) of a NASLib tuple, given as ints or as its json key string."""
    if isinstance(key, str):
        match = _NASLIB_KEY_RE.match(key)
        if match is None:
            raise InvalidArchError(
                f"NASLib NB201 key must look like '(0, 1, 2, 3, 4, 0)', got {key!r}"
            )
        key = [int(code) for code in match[1].split(",")]
    codes = list(key)
    if len(codes) != NUM_EDGES or not all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(NASLIB_OPS) for c in codes
    ):
        raise InvalidArchError(f"NASLib NB201 tuple needs 6 op codes in 0..4, got {key!r}")
    return tuple(OPS.index(NASLIB_OPS[codes[p]]) for p in NASLIB_POSITION)


def ops_to_naslib(ops: Ops) -> tuple[int, ...]:
    """NASLib's tuple of op indices in string order (the position map is its own inverse)."""
    return tuple(NASLIB_OPS.index(OPS[ops[p]]) for p in NASLIB_POSITION)


# ----------------------------------------------------------------------------- modules


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BN, NB201's ``nor_conv`` and ResNet-block layer."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, *, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=True),
        )


class Zero(nn.Module):
    """NB201's ``none``: ``x * 0``. Multiplying (not ``zeros_like``) keeps the output in the
    autograd graph of ``x``, like the official ``Zero`` op; cell edges always keep the shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int, *, affine: bool = True) -> nn.Module:
    """One NB201 cell operation (stride 1, ``channels`` in and out, as in every NB201 cell)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, affine=affine)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, affine=affine)
    if name == "avg_pool_3x3":
        return AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise InvalidArchError(f"NB201: unknown op {name!r} (known: {', '.join(OPS)})")


class ResNetBasicblock(nn.Module):
    """NB201's stride-2 reduction block: two ReLU-Conv3x3-BN layers plus an AvgPool2d(2) + 1x1 conv
    shortcut. The pool uses ``ceil_mode=True`` so odd image sizes keep both paths the same shape;
    on even sizes (all benchmark inputs) it equals NB201's pool exactly."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True),
            nn.Conv2d(c_in, c_out, kernel_size=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Cell(nn.Module):
    """A NB201 cell over 6 edge modules (string edge order): node ``j`` sums ``edge(node_i)`` over
    ``i < j``; the output is node 3. Edges are plain ops (discrete cell) or :class:`MixedOp`s
    (supernet, called with that edge's mixing weights and active-op mask)."""

    def __init__(self, edges: Sequence[nn.Module]) -> None:
        super().__init__()
        self.edges = nn.ModuleList(edges)

    def forward(
        self,
        x: torch.Tensor,
        weights: torch.Tensor | None = None,
        mask: list[list[bool]] | None = None,
    ) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, NUM_NODES):
            terms = [
                self._edge(e, nodes[src], weights, mask)
                for e, (src, target) in enumerate(EDGES)
                if target == dst and (mask is None or any(mask[e]))
            ]
            nodes.append(sum(terms) if terms else torch.zeros_like(x))
        return nodes[-1]

    def _edge(
        self,
        e: int,
        x: torch.Tensor,
        weights: torch.Tensor | None,
        mask: list[list[bool]] | None,
    ) -> torch.Tensor:
        if weights is None or mask is None:
            return self.edges[e](x)
        return self.edges[e](x, weights[e], mask[e])


class NB201Network(nn.Module):
    """NB201's macro skeleton (``TinyNetwork``): stem, 3 stages of ``N`` cells (C, 2C, 4C) joined by
    :class:`ResNetBasicblock`, head BN-ReLU-global pool-linear. ``make_cell(width)`` builds each
    cell. ``stem=False`` feeds the input straight to the first cell (needs ``in_channels == C``);
    ``depth`` keeps only the first ``depth`` of the ``3N + 2`` cells and blocks (TE-NAS's thin
    linear-region network uses ``depth=1``). Forward returns the logits and works for any batch
    and image size >= 4, except that BN in train mode cannot normalise one value per channel: a
    batch of 1 needs images of at least 5 pixels (the last stage is then 2x2, not 1x1)."""

    def __init__(
        self,
        make_cell: Callable[[int], nn.Module],
        *,
        C: int,
        N: int,
        num_classes: int,
        in_channels: int,
        stem: bool,
        depth: int | None,
    ) -> None:
        super().__init__()
        _check_sizes(C=C, N=N, num_classes=num_classes, in_channels=in_channels, depth=depth)
        if not stem and in_channels != C:
            raise TrainfreeError(
                f"NB201 without stem feeds the input to the first cell: in_channels "
                f"({in_channels}) must equal C ({C})"
            )
        self.stem: nn.Module = (
            nn.Sequential(
                nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(C),
            )
            if stem
            else nn.Identity()
        )
        widths = [C] * N + [2 * C] * (N + 1) + [4 * C] * (N + 1)
        reductions = ([False] * N + [True]) * 2 + [False] * N
        plan = list(zip(widths, reductions, strict=True))[: depth or len(widths)]
        c_prev = C
        self.cells = nn.ModuleList()
        for width, reduction in plan:
            self.cells.append(ResNetBasicblock(c_prev, width) if reduction else make_cell(width))
            c_prev = width
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def body(
        self,
        x: torch.Tensor,
        weights: torch.Tensor | None = None,
        mask: list[list[bool]] | None = None,
    ) -> torch.Tensor:
        """Stem and cells; ``weights``/``mask`` are passed to every :class:`Cell`."""
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h, weights, mask) if isinstance(cell, Cell) else cell(h)
        return h

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.lastact(h)).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _check_sizes(**sizes: int | None) -> None:
    """Every size must be a positive integer (``depth`` may also be None: all cells)."""
    for key, value in sizes.items():
        if key == "depth" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TrainfreeError(f"NB201: {key} must be a positive integer, got {value!r}")


def build_network(
    arch: str,
    *,
    num_classes: int = 10,
    in_channels: int = 3,
    C: int = 16,
    N: int = 5,
    stem: bool = True,
    depth: int | None = None,
) -> NB201Network:
    """NB201's evaluation network for ``arch`` (defaults: the benchmark's C=16, N=5; 1,531,546
    parameters for the all-``nor_conv_3x3`` cell at 10 classes). BN is affine and tracks running
    statistics, as in NB201's ``InferCell``; PyTorch default initialisation."""
    names = [OPS[o] for o in parse_arch(arch)]
    return NB201Network(
        lambda width: Cell([make_op(name, width) for name in names]),
        C=C,
        N=N,
        num_classes=num_classes,
        in_channels=in_channels,
        stem=stem,
        depth=depth,
    )


# ----------------------------------------------------------------------------- supernet

WEIGHT_MODES = ("softmax", "alphas")


def mixing_weights(alphas: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Per-edge op weights: softmax over the active ops (DARTS), or the raw alphas times the mask
    (``alphas``; ZEROS multiplies op outputs by alpha directly). Inactive ops weigh exactly 0."""
    if mode == "alphas":
        return alphas * mask
    if mode != "softmax":
        raise TrainfreeError(f"unknown weights mode {mode!r} (known: {', '.join(WEIGHT_MODES)})")
    logits = alphas.masked_fill(~mask, float("-inf"))
    logits = torch.where(mask.any(dim=-1, keepdim=True), logits, torch.zeros_like(alphas))
    return logits.softmax(dim=-1) * mask


class MixedOp(nn.Module):
    """All 5 NB201 ops on one edge; output ``sum_o w_o * op_o(x)`` over the active ops."""

    def __init__(self, channels: int, *, affine: bool) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels, affine=affine) for name in OPS)

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor, active: Sequence[bool]
    ) -> torch.Tensor:
        return sum(w * op(x) for w, op, on in zip(weights, self.ops, active, strict=True) if on)


class NB201Supernet(NB201Network):
    """The NB201 one-shot model (NB201's ``TinyNetworkDarts`` as used by DARTS-V1 and TE-NAS): every
    edge a :class:`MixedOp`, one ``alphas`` (6, 5) parameter shared by all cells (rows = edges in
    string order, columns = :data:`OPS`), initialised to 1e-3 * N(0, 1) from the global torch
    generator (seed it first). ``mask`` is a boolean (6, 5) buffer of active ops; searches prune
    by clearing entries (inactive ops are not computed; an edge with none active contributes
    nothing). ``weights`` chooses the mixing, see :func:`mixing_weights`. ``affine`` is the cell
    ops' BN affinity: False in NB201's DARTS search model (and ZEROS), True in TE-NAS; stem, ResNet
    blocks and head always use affine BN, as in NB201."""

    def __init__(
        self,
        *,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        stem: bool = True,
        depth: int | None = None,
        affine: bool = False,
        weights: str = "softmax",
    ) -> None:
        mixing_weights(torch.zeros(1, 1), torch.ones(1, 1, dtype=torch.bool), weights)
        super().__init__(
            lambda width: Cell([MixedOp(width, affine=affine) for _ in EDGES]),
            C=C,
            N=N,
            num_classes=num_classes,
            in_channels=in_channels,
            stem=stem,
            depth=depth,
        )
        self.weights = weights
        shape = (NUM_EDGES, len(OPS))
        self.alphas = nn.Parameter(1e-3 * torch.randn(shape))
        self.register_buffer("mask", torch.ones(shape, dtype=torch.bool))

    def mixing(self) -> torch.Tensor:
        """The current (6, 5) mixing weights."""
        return mixing_weights(self.alphas, self.mask, self.weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x, self.mixing(), self.mask.tolist()))

    @torch.no_grad()
    def genotype(self) -> str:
        """The canonical string of the argmax active op per edge (``none`` where none is active).
        Softmax is monotone, so this is also the argmax of the mixing weights."""
        scores = self.alphas.masked_fill(~self.mask, float("-inf")).argmax(dim=1)
        return format_arch(torch.where(self.mask.any(dim=1), scores, 0).tolist())


def build_supernet(
    *,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
    in_channels: int = 3,
    stem: bool = True,
    depth: int | None = None,
    affine: bool = False,
    weights: str = "softmax",
) -> NB201Supernet:
    """The NB201 supernet (defaults: NB201's DARTS search model, C=16, N=5); see
    :class:`NB201Supernet`."""
    return NB201Supernet(
        C=C,
        N=N,
        num_classes=num_classes,
        in_channels=in_channels,
        stem=stem,
        depth=depth,
        affine=affine,
        weights=weights,
    )


# ----------------------------------------------------------------------------- space


def _arch_from_choice(choice: list[list[int | None]]) -> str:
    """The cell a pruned supernet leaves: one op per edge (``None``: fully pruned = ``none``)."""
    (ops,) = choice
    return format_arch(["none" if o is None else OPS[o] for o in ops])


@register_space
class NB201Space(SearchSpace):
    """NAS-Bench-201 / NATS-TSS cells (Dong & Yang, ICLR 2020): 6 edges, 5 ops, 15,625 archs."""

    name = "nb201"
    supernet = Supernet(name, tuple(OPS), None, build_supernet, _arch_from_choice)
    benchmarks: ClassVar[Mapping[str, tuple[str, str]]] = {
        dataset: ("nb201/nb201_accuracy.csv", f"{column}_test_200ep")
        for dataset, column in (("cifar10", "cifar10"), ("cifar100", "cifar100"),
                                ("synthetic", "cifar10"))
    }  # fmt: skip

    def parse(self, arch: str) -> Ops:
        """Op indices (into :data:`OPS`) of the 6 edges in string order."""
        return parse_arch(arch)

    def canonical(self, arch: str) -> str:
        return format_arch(parse_arch(arch))

    def size(self) -> int:
        return SIZE

    def index_of(self, arch: str) -> int:
        """The official NB201/NATS-TSS index of ``arch``."""
        return _official_order()[1][parse_arch(arch)]

    def arch_at(self, index: int) -> str:
        """The architecture with official NB201/NATS-TSS index ``index``."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < SIZE:
            raise InvalidArchError(
                f"NB201 index must be an integer in 0..{SIZE - 1}, got {index!r}"
            )
        return format_arch(_official_order()[0][index])

    def enumerate(self) -> Iterator[str]:
        """Every architecture in official index order."""
        return (format_arch(ops) for ops in _official_order()[0])

    def from_naslib(self, key: str | Sequence[int]) -> str:
        """The string of a NASLib tuple (ints, or a json key such as ``"(0, 1, 2, 3, 4, 0)"``)."""
        return format_arch(naslib_to_ops(key))

    def to_naslib(self, arch: str) -> tuple[int, ...]:
        """NASLib's op-code tuple of ``arch``."""
        return ops_to_naslib(parse_arch(arch))

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """``n`` distinct architectures, uniformly without replacement (``random.Random(seed)``)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= SIZE:
            raise TrainfreeError(f"NB201 can sample 0..{SIZE} architectures, asked for {n!r}")
        return [self.arch_at(i) for i in random.Random(seed).sample(range(SIZE), n)]

    def neighbours(self, arch: str) -> list[str]:
        """The 24 architectures that differ from ``arch`` in the op of exactly one edge."""
        ops = parse_arch(arch)
        return [
            format_arch((*ops[:e], op, *ops[e + 1 :]))
            for e in range(NUM_EDGES)
            for op in range(len(OPS))
            if op != ops[e]
        ]

    def mutate(self, arch: str, rng: random.Random) -> str:
        """One uniformly chosen edge switched to a uniformly chosen different op."""
        ops = list(parse_arch(arch))
        edge = rng.randrange(NUM_EDGES)
        ops[edge] = rng.choice([op for op in range(len(OPS)) if op != ops[edge]])
        return format_arch(ops)

    def build(
        self,
        arch: str,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        C: int = 16,
        N: int = 5,
        stem: bool = True,
        depth: int | None = None,
    ) -> NB201Network:
        """NB201's evaluation network, see :func:`build_network`."""
        return build_network(
            arch,
            num_classes=num_classes,
            in_channels=in_channels,
            C=C,
            N=N,
            stem=stem,
            depth=depth,
        )


__all__ = [
    "EDGES",
    "NASLIB_OPS",
    "OPS",
    "SIZE",
    "Cell",
    "MixedOp",
    "NB201Network",
    "NB201Space",
    "NB201Supernet",
    "ResNetBasicblock",
    "build_network",
    "build_supernet",
    "format_arch",
    "make_op",
    "mixing_weights",
    "naslib_to_ops",
    "ops_to_naslib",
    "parse_arch",
]
