"""The NAS-Bench-101 search space (Ying, Klein, Real, Christiansen, Murphy, Hutter,
"NAS-Bench-101: Towards Reproducible Neural Architecture Search", ICML 2019).

A cell is a DAG of at most 7 vertices: ``input``, up to 5 operations from :data:`OPS`, and
``output``, with at most 9 edges. Vertices that are not on an input-to-output path do not
compute anything and are pruned, as the official ``ModelSpec`` does; the edge limit applies to
the pruned cell (as the official ``NASBench.is_valid``). The space holds 423,624 distinct cells.

Architecture strings are ``OPS:ADJ``, the vertex ops comma-separated, then the adjacency rows as
0/1 strings separated by ``/``::

    input,conv3x3-bn-relu,maxpool3x3,output:0110/0001/0001/0000

Any vertex order is read as long as the graph is acyclic (vertex 0 must be ``input``, the last
``output``). NASLib's tuple (NAS-Bench-Suite-Zero) is read too: the ``n x n`` adjacency matrix
row-major, then ``n`` op codes from :data:`NASLIB_OPS` (``n = 7``: 56 entries).

**Canonical form.** Isomorphic cells, and cells that differ only in pruned vertices, are one
NAS-Bench-101 entry (keyed by :func:`module_hash`), so the canonical string is
isomorphism-invariant: the official representative of the cell, the vertex order under which
NAS-Bench-101's ``generate_graphs.py`` enumerates it first (:func:`canonical_cell`), which is the
matrix and ops the official dataset stores. Two strings have the same canonical form exactly
when they are the same NAS-Bench-101 cell.

**Vertex order and the network.** ``NB101Space.build`` keeps the order an architecture is
written in (after pruning). It matters only for the channel split: when the output width does
not divide among the vertices feeding the output, the first of them get one channel more, so
two orders of one cell can differ slightly in size (on NASLib's 500 entries: 28 differ, by at
most 25,090 parameters). The canonical string builds the network NAS-Bench-101 trained; a
NASLib tuple builds the network NASLib scored.

:class:`NB101Network` is NAS-Bench-101's network (``nasbench/lib/model_builder.py``): a 3x3
conv-BN-ReLU stem of 128 channels, 3 stacks of 3 cells, a 2x2 max-pool and doubled channels
before stacks 2 and 3, global average pooling and a linear classifier. Inside a cell the output
channels are split among the vertices feeding the output, which are concatenated; the cell input
reaches a vertex through a 1x1 conv-BN-ReLU projection and is added to the output. BN has a
trainable scale and shift, as TensorFlow's ``batch_normalization`` default, so the trainable
parameter count equals NAS-Bench-101's ``trainable_parameters`` (and NASLib's ``params``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.spaces import register_space
from trainfree.spaces.base import InvalidArchError, SearchSpace

INPUT, OUTPUT = "input", "output"
#: The operations, in the official ``available_ops`` order (their index is the hash label).
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: NASLib's op codes (``naslib/search_spaces/nasbench101/conversions.py``).
NASLIB_OPS: tuple[str, ...] = (INPUT, OUTPUT, "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
MAX_VERTICES = 7
MAX_EDGES = 9
SIZE = 423_624  # distinct cells, as counted by the official generate_graphs.py
BN_MOMENTUM = 1.0 - 0.997  # the official TensorFlow decay 0.997 in PyTorch's convention
BN_EPSILON = 1e-5


# ----------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """A pruned cell: ``ops`` per vertex (``input`` first, ``output`` last) and its edges
    ``(src, dst)``, ``src < dst`` (upper-triangular adjacency)."""

    ops: tuple[str, ...]
    edges: frozenset[tuple[int, int]]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    def matrix(self) -> list[list[int]]:
        """The adjacency matrix as nested lists of 0/1."""
        n = self.num_vertices
        return [[int((i, j) in self.edges) for j in range(n)] for i in range(n)]

    def __str__(self) -> str:
        rows = "/".join("".join(map(str, row)) for row in self.matrix())
        return f"{','.join(self.ops)}:{rows}"


def _check_ops(ops: Sequence[str]) -> None:
    if not MAX_VERTICES >= len(ops) >= 2:
        raise InvalidArchError(
            f"NB101 cell needs 2..{MAX_VERTICES} vertices (input, ops, output), got {len(ops)}"
        )
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise InvalidArchError("NB101 cell: the first vertex must be 'input', the last 'output'")
    for op in ops[1:-1]:
        if op not in OPS:
            raise InvalidArchError(f"NB101: unknown op {op!r} (known: {', '.join(OPS)})")


def _prune(ops: Sequence[str], edges: set[tuple[int, int]]) -> Cell:
    """Keep the vertices on an input-to-output path (official ``ModelSpec._prune``), in a
    topological order that keeps the written order where it already is one (so an upper-
    triangular matrix is pruned exactly as the official code does); raise on a cycle, a
    disconnected cell or too many edges."""
    n = len(ops)
    order = _topological_order(n, edges)
    succ = {v: {d for s, d in edges if s == v} for v in range(n)}
    pred = {v: {s for s, d in edges if d == v} for v in range(n)}

    def reach(start: int, nxt: dict[int, set[int]]) -> set[int]:
        seen, todo = {start}, [start]
        while todo:
            for w in nxt[todo.pop()] - seen:
                seen.add(w)
                todo.append(w)
        return seen

    keep = reach(0, succ) & reach(n - 1, pred)
    if n - 1 not in keep:
        raise InvalidArchError("NB101 cell: no path from input to output")
    new = {v: i for i, v in enumerate(v for v in order if v in keep)}
    cell = Cell(
        tuple(ops[v] for v in new),
        frozenset((new[s], new[d]) for s, d in edges if s in keep and d in keep),
    )
    if len(cell.edges) > MAX_EDGES:
        raise InvalidArchError(
            f"NB101 cell has {len(cell.edges)} edges after pruning (at most {MAX_EDGES})"
        )
    return cell


def _topological_order(n: int, edges: set[tuple[int, int]]) -> list[int]:
    """Kahn's algorithm taking the smallest ready vertex first (the identity order for an
    upper-triangular matrix); raise :class:`InvalidArchError` on a cycle."""
    indegree = [0] * n
    for _, d in edges:
        indegree[d] += 1
    order: list[int] = []
    ready = [v for v in range(n) if indegree[v] == 0]
    while ready:
        v = min(ready)
        ready.remove(v)
        order.append(v)
        for s, d in edges:
            if s == v:
                indegree[d] -= 1
                if indegree[d] == 0:
                    ready.append(d)
    if len(order) != n:
        raise InvalidArchError("NB101 cell: the graph has a cycle")
    return order


def _orders(cell: Cell) -> Iterator[list[int]]:
    """Every topological order of a pruned cell (they all start at input and end at output)."""
    n = cell.num_vertices
    preds = [{s for s, d in cell.edges if d == v} for v in range(n)]

    def extend(order: list[int], placed: set[int]) -> Iterator[list[int]]:
        if len(order) == n:
            yield list(order)
            return
        for v in range(n):
            if v not in placed and preds[v] <= placed:
                order.append(v)
                placed.add(v)
                yield from extend(order, placed)
                order.pop()
                placed.discard(v)

    return extend([], set())


def _generation_key(cell: Cell, order: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """Where NAS-Bench-101's ``generate_graphs.py`` meets ``cell`` renumbered by ``order``: the
    matrix bit mask (edge ``(x, y)`` is bit ``x + y(y-1)/2``), then the op labels."""
    pos = {v: i for i, v in enumerate(order)}
    bits = sum(1 << (pos[s] + pos[d] * (pos[d] - 1) // 2) for s, d in cell.edges)
    return bits, tuple(OPS.index(cell.ops[v]) for v in order[1:-1])


@functools.lru_cache(maxsize=65536)
def canonical_cell(cell: Cell) -> Cell:
    """The official representative of ``cell``'s isomorphism class: of its upper-triangular
    vertex orders, the one NAS-Bench-101's generator enumerates first (smallest bit mask, then
    smallest labels), which is the matrix and ops the official dataset stores."""
    order = min(_orders(cell), key=lambda o: _generation_key(cell, o))
    pos = {v: i for i, v in enumerate(order)}
    return Cell(
        tuple(cell.ops[v] for v in order), frozenset((pos[s], pos[d]) for s, d in cell.edges)
    )


# ----------------------------------------------------------------------------- strings

_NASLIB_KEY_RE = re.compile(r"^\s*[\(\[]\s*(\d+(?:\s*,\s*\d+)*)\s*,?\s*[\)\]]\s*$")


def _parse_string(arch: str) -> tuple[list[str], set[tuple[int, int]]]:
    head, sep, tail = arch.strip().partition(":")
    if not sep or ":" in tail:
        raise InvalidArchError(
            f"NB101 arch must be OPS:ADJ, e.g. 'input,conv3x3-bn-relu,output:010/001/000', "
            f"got {arch!r}"
        )
    ops = [op.strip() for op in head.split(",")]
    rows = [row.strip() for row in tail.split("/")]
    _check_ops(ops)
    n = len(ops)
    if len(rows) != n or any(len(row) != n or set(row) - {"0", "1"} for row in rows):
        raise InvalidArchError(
            f"NB101 arch: the adjacency must be {n} rows of {n} 0/1 digits joined by '/', "
            f"got {tail.strip()!r}"
        )
    return ops, {(i, j) for i, row in enumerate(rows) for j, bit in enumerate(row) if bit == "1"}


def _parse_naslib(key: str | Sequence[int]) -> tuple[list[str], set[tuple[int, int]]]:
    if isinstance(key, str):
        match = _NASLIB_KEY_RE.match(key)
        if match is None:
            raise InvalidArchError(f"NASLib NB101 key must be a tuple of integers, got {key!r}")
        codes: list = [int(code) for code in match[1].split(",")]
    else:
        codes = list(key)
    n = round((math.sqrt(1 + 4 * len(codes)) - 1) / 2)
    valid = n * n + n == len(codes) and all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in codes
    )
    if not valid or any(c > 1 for c in codes[: n * n]) or any(c >= 5 for c in codes[n * n :]):
        raise InvalidArchError(
            f"NASLib NB101 tuple needs n*n adjacency bits then n op codes in 0..4 "
            f"({len(codes)} entries), got {key!r}"
        )
    ops = [NASLIB_OPS[c] for c in codes[n * n :]]
    _check_ops(ops)
    return ops, {(i, j) for i in range(n) for j in range(n) if codes[i * n + j]}


def parse_cell(arch: str | Sequence[int]) -> Cell:
    """The pruned :class:`Cell` of an ``OPS:ADJ`` string or a NASLib tuple (ints or its json
    key); raise :class:`InvalidArchError` when it is malformed, cyclic, disconnected, or out of
    the space."""
    if isinstance(arch, str) and ":" not in arch and _NASLIB_KEY_RE.match(arch) is None:
        raise InvalidArchError(
            f"NB101 arch must be OPS:ADJ, e.g. 'input,conv3x3-bn-relu,output:010/001/000', or "
            f"NASLib's tuple, got {arch!r}"
        )
    if isinstance(arch, str) and ":" in arch:
        ops, edges = _parse_string(arch)
    elif isinstance(arch, Sequence):
        ops, edges = _parse_naslib(arch)
    else:
        raise InvalidArchError(f"NB101 arch must be a string, got {type(arch).__name__}")
    return _prune(ops, edges)


def canonical_string(arch: str | Sequence[int]) -> str:
    """The isomorphism-invariant canonical string of ``arch`` (see the module docstring)."""
    return str(canonical_cell(parse_cell(arch)))


# ----------------------------------------------------------------------------- hash


def module_hash(cell: Cell) -> str:
    """NAS-Bench-101's module hash of a pruned cell (``graph_util.hash_module`` with the labels
    of ``ModelSpec.hash_spec``: -1 input, -2 output, the :data:`OPS` index otherwise): MD5 of
    each vertex's (out-degree, in-degree, label), refined ``n`` times with the sorted hashes of
    its in- and out-neighbours, then MD5 of the sorted vertex hashes."""
    n = cell.num_vertices
    labels = [-1] + [OPS.index(op) for op in cell.ops[1:-1]] + [-2]
    ins = [[s for s in range(n) if (s, v) in cell.edges] for v in range(n)]
    outs = [[d for d in range(n) if (v, d) in cell.edges] for v in range(n)]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8")).hexdigest()

    hashes = [md5(str((len(outs[v]), len(ins[v]), labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            md5(
                "".join(sorted(hashes[w] for w in ins[v]))
                + "|"
                + "".join(sorted(hashes[w] for w in outs[v]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return md5(str(sorted(hashes)))


# ----------------------------------------------------------------------------- network


def vertex_channels(c_in: int, c_out: int, cell: Cell) -> list[int]:
    """Output channels of every vertex (official ``compute_vertex_channels``): the vertices
    feeding the output split ``c_out`` (the first ones get one extra channel when it does not
    divide), every other interior vertex takes the largest width among its successors. Raises
    when ``c_out`` is smaller than the number of vertices feeding the output."""
    n = cell.num_vertices
    channels = [c_in] + [0] * (n - 2) + [c_out]
    if n == 2:
        return channels
    feeders = [v for v in range(1, n - 1) if (v, n - 1) in cell.edges]
    if c_out < len(feeders):
        raise TrainfreeError(
            f"NB101: {c_out} channels cannot be split among {len(feeders)} vertices"
        )
    width, extra = divmod(c_out, len(feeders))
    for i, v in enumerate(feeders):
        channels[v] = width + (i < extra)
    for v in range(n - 3, 0, -1):
        if (v, n - 1) not in cell.edges:
            channels[v] = max(channels[d] for d in range(v + 1, n - 1) if (v, d) in cell.edges)
    return channels


def cell_width(channels: int, cell: Cell) -> int:
    """A cell's output width: ``channels``, or one channel per vertex feeding the output where
    there are more of them (only in networks thinner than the benchmark's, e.g. TE-NAS's
    one-channel linear-region network; at the benchmark's 128 stem channels it is ``channels``)."""
    n = cell.num_vertices
    return max(channels, sum((v, n - 1) in cell.edges for v in range(1, n - 1)))


class ConvBnRelu(nn.Sequential):
    """Conv (no bias, 'same' padding) -> BN (trainable scale and shift) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, eps=BN_EPSILON, momentum=BN_MOMENTUM),
            nn.ReLU(),
        )


def make_op(name: str, channels: int) -> nn.Module:
    """One vertex operation (``channels`` in and out)."""
    if name == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise InvalidArchError(f"NB101: unknown op {name!r} (known: {', '.join(OPS)})")


class NB101Cell(nn.Module):
    """One NAS-Bench-101 module (official ``build_module``): vertex ``t`` applies its op to the
    sum of its interior predecessors (their first ``channels[t]`` channels) and of a projection
    of the cell input; the output concatenates the vertices feeding it and adds a projection of
    the input when the input feeds it (a lone projection when no interior vertex does). The
    projections, which see the cell input, are registered first."""

    def __init__(self, cell: Cell, c_in: int, c_out: int) -> None:
        super().__init__()
        n = cell.num_vertices
        self.channels = vertex_channels(c_in, c_out, cell)
        self.projections = nn.ModuleDict(
            {
                str(t): ConvBnRelu(c_in, self.channels[t], 1)
                for t in range(1, n)
                if (0, t) in cell.edges
            }
        )
        self.ops = nn.ModuleList(
            [nn.Identity()] + [make_op(cell.ops[t], self.channels[t]) for t in range(1, n - 1)]
        )
        self.preds = [[s for s in range(1, t) if (s, t) in cell.edges] for t in range(n)]
        self.feeders = [v for v in range(1, n - 1) if (v, n - 1) in cell.edges]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(self.channels)
        values = [x]
        for t in range(1, n - 1):
            terms = [values[s][:, : self.channels[t]] for s in self.preds[t]]
            if str(t) in self.projections:
                terms.append(self.projections[str(t)](x))
            values.append(self.ops[t](sum(terms)))
        if not self.feeders:  # a pruned cell without interior feeders is input -> output
            return self.projections[str(n - 1)](x)
        out = torch.cat([values[v] for v in self.feeders], dim=1)
        if str(n - 1) in self.projections:
            out = out + self.projections[str(n - 1)](x)
        return out


class NB101Network(nn.Module):
    """NAS-Bench-101's network: stem conv3x3-BN-ReLU of ``C`` channels, ``num_stacks`` stacks of
    ``N`` cells, a 2x2 max-pool (ceil mode: TensorFlow's 'same' on odd sizes) and doubled
    channels before every stack but the first, global average pool, linear classifier.
    ``stem=False`` feeds the input to the first cell; ``depth`` keeps only the first ``depth``
    cells (with the pools before them)."""

    def __init__(
        self,
        cell: Cell,
        *,
        num_classes: int,
        in_channels: int,
        C: int,
        N: int,
        num_stacks: int,
        stem: bool,
        depth: int | None,
    ) -> None:
        super().__init__()
        sizes = {"num_classes": num_classes, "in_channels": in_channels, "C": C, "N": N}
        sizes |= {"num_stacks": num_stacks, "depth": 1 if depth is None else depth}
        for key, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TrainfreeError(f"NB101: {key} must be a positive integer, got {value!r}")
        layers: list[nn.Module] = [ConvBnRelu(in_channels, C, 3)] if stem else []
        c_prev = C if stem else in_channels
        plan = [C * 2**stack for stack in range(num_stacks) for _ in range(N)]
        for i, channels in enumerate(plan[: depth or len(plan)]):
            if i and i % N == 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
            layers.append(NB101Cell(cell, c_prev, cell_width(channels, cell)))
            c_prev = cell_width(channels, cell)
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.layers(x).mean(dim=(2, 3)))


# ----------------------------------------------------------------------------- sampling


def _candidate_weights() -> list[tuple[int, int, int]]:
    """``(vertices, edges, count)`` for every upper-triangular candidate size: the number of
    labelled upper-triangular matrices with that many vertices and edges."""
    out = []
    for n in range(2, MAX_VERTICES + 1):
        slots = n * (n - 1) // 2
        for k in range(min(slots, MAX_EDGES) + 1):
            out.append((n, k, math.comb(slots, k) * len(OPS) ** (n - 2)))
    return out


def _draw_canonical(rng: random.Random, weights: list[tuple[int, int, int]]) -> str:
    """One cell, uniform over the distinct cells: draw a labelled upper-triangular matrix
    uniformly among those with at most 9 edges, keep it only if it is already pruned and is its
    cell's canonical string. Each cell has exactly one such string, so every cell is accepted
    with the same probability."""
    counts = [w for _, _, w in weights]
    while True:
        n, k, _ = rng.choices(weights, weights=counts)[0]
        slots = [(i, j) for j in range(n) for i in range(j)]
        edges = frozenset(rng.sample(slots, k))
        ops = (INPUT, *(rng.choice(OPS) for _ in range(n - 2)), OUTPUT)
        cell = Cell(ops, edges)
        sources = {s for s, _ in edges}
        targets = {d for _, d in edges}
        full = sources >= set(range(n - 1)) and targets >= set(range(1, n))
        if full and canonical_cell(cell) == cell:
            return str(cell)


# ----------------------------------------------------------------------------- space


@register_space
class NB101Space(SearchSpace):
    """NAS-Bench-101 cells (Ying et al., ICML 2019): <= 7 vertices, <= 9 edges, 3 ops, 423,624."""

    name = "nb101"
    #: NAS-Bench-Suite-Zero's 500 NB101 entries (108-epoch validation accuracy).
    benchmarks: ClassVar[Mapping[str, tuple[str, str]]] = {
        "*": ("nb101/naslib_zc_nasbench101.json", "cifar10/val_accuracy")
    }

    def parse(self, arch: str) -> Cell:
        """The pruned :class:`Cell` of ``arch``."""
        return parse_cell(arch)

    def canonical(self, arch: str) -> str:
        """The isomorphism-invariant canonical string (also accepts a NASLib tuple)."""
        return canonical_string(arch)

    def from_naslib(self, key: str | Sequence[int]) -> str:
        """The canonical string of a NASLib tuple (ints, or its json key ``"(0, 1, ...)"``)."""
        return canonical_string(_naslib_only(key))

    def hash(self, arch: str) -> str:
        """NAS-Bench-101's module hash of ``arch`` (the key of the official dataset)."""
        return module_hash(parse_cell(arch))

    def arch_info(self, arch: str) -> dict[str, Any]:
        return {"hash": self.hash(arch)}

    def size(self) -> int:
        return SIZE

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """``n`` distinct cells (by hash), uniformly over the 423,624 (``random.Random(seed)``)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= SIZE:
            raise TrainfreeError(f"NB101 can sample 0..{SIZE} architectures, asked for {n!r}")
        rng, weights = random.Random(seed), _candidate_weights()
        chosen: dict[str, None] = {}
        while len(chosen) < n:
            chosen.setdefault(_draw_canonical(rng, weights))
        return list(chosen)

    def neighbours(self, arch: str) -> list[str]:
        """The distinct cells one edit away: one interior op changed, one edge added or removed
        (vertices left off every path are pruned), or, with fewer than 7 vertices, one new vertex
        with an edge from one vertex and an edge to another (no cycle). The last move is the
        canonical form's equivalent of NAS-Bench-101's one-edge mutation connecting a dangling
        vertex of the 7-vertex matrix (canonical cells keep no dangling vertices)."""
        cell = parse_cell(arch)
        own = str(canonical_cell(cell))
        out: dict[str, None] = {}
        for ops, edges in _edits(cell):
            try:
                out.setdefault(str(canonical_cell(_prune(ops, edges))))
            except InvalidArchError:
                continue
        out.pop(own, None)
        return list(out)

    def mutate(self, arch: str, rng: random.Random) -> str:
        """A uniformly chosen neighbour (see :meth:`neighbours`)."""
        options = self.neighbours(arch)
        if not options:
            raise TrainfreeError(f"NB101 cell {arch!r} has no valid neighbour")
        return rng.choice(options)

    def build(
        self,
        arch: str,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        C: int = 128,
        N: int = 3,
        num_stacks: int = 3,
        stem: bool = True,
        depth: int | None = None,
    ) -> NB101Network:
        """NAS-Bench-101's network for ``arch`` in the vertex order it is written in (defaults:
        the benchmark's ``C=128`` stem channels, ``num_stacks=3`` stacks of ``N=3`` cells;
        PyTorch default initialisation). ``C`` and ``N`` are named as in the NB201 and DARTS
        spaces; see :class:`NB101Network`."""
        return NB101Network(
            parse_cell(arch),
            num_classes=num_classes,
            in_channels=in_channels,
            C=C,
            N=N,
            num_stacks=num_stacks,
            stem=stem,
            depth=depth,
        )


def _naslib_only(key: str | Sequence[int]) -> str | Sequence[int]:
    if isinstance(key, str) and ":" in key:
        raise InvalidArchError(f"not a NASLib NB101 tuple: {key!r}")
    return key


def _edits(cell: Cell) -> Iterator[tuple[list[str], set[tuple[int, int]]]]:
    """Every one-edit variant of ``cell`` as (ops, edges), before pruning and validation."""
    n, ops = cell.num_vertices, list(cell.ops)
    for v in range(1, n - 1):
        for op in OPS:
            if op != ops[v]:
                yield [*ops[:v], op, *ops[v + 1 :]], set(cell.edges)
    for edge in itertools.combinations(range(n), 2):
        yield ops, set(cell.edges ^ {edge})
    if n < MAX_VERTICES:  # new vertex n - 1 (not in topological position), output moves to n
        base = {(s, d + (d == n - 1)) for s, d in cell.edges}
        for src, dst in itertools.product(range(n - 1), [*range(1, n - 1), n]):
            for op in OPS:
                if src != dst:
                    yield [*ops[:-1], op, OUTPUT], base | {(src, n - 1), (n - 1, dst)}


__all__ = [
    "MAX_EDGES",
    "MAX_VERTICES",
    "NASLIB_OPS",
    "OPS",
    "SIZE",
    "Cell",
    "NB101Cell",
    "NB101Network",
    "NB101Space",
    "canonical_cell",
    "canonical_string",
    "cell_width",
    "make_op",
    "module_hash",
    "parse_cell",
    "vertex_channels",
]
