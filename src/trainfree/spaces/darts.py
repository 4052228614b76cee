"""The DARTS CNN search space (Liu, Simonyan, Yang, "DARTS: Differentiable Architecture Search",
ICLR 2019), scored as NAS-Bench-301 does (Siems et al., 2020; Krishnakumar et al., "NAS-Bench-Suite-
Zero", NeurIPS 2022 Datasets and Benchmarks).

An architecture is a normal and a reduction cell, each with 4 intermediate nodes; node ``i``
(numbered 2..5, inputs 0 and 1 being the two previous cells) sums two operations applied to two
*distinct* earlier nodes, and the cell outputs the concatenation of nodes 2..5. Two spellings are
read wherever a genotype is read:

* DARTS's own form::

    Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5],
             reduce=[...], reduce_concat=[2, 3, 4, 5])

  (``range(2, 6)`` is accepted for the concat lists, as DARTS's search code prints them);
* NASLib's compact form ``[[normal: 8 x (input, op index)], [reduce: same]]``, the keys of
  NAS-Bench-Suite-Zero's ``zc_nasbench301.json``, with op indices into :data:`GENOTYPE_OPS`
  (NASLib's ``nasbench301/conversions.py``) and inputs numbered as in the genotype.

The canonical form is the ``Genotype(...)`` string with each node's two pairs sorted by input then
operation, so a published genotype may print with a node's two pairs swapped; the network is the
same. ``none`` (the zero operation) is allowed on an edge: public DARTS-space benchmarks train such
genotypes; the edge contributes zeros of the node's shape (strided on reduction edges).

Networks. :class:`NetworkCIFAR` is DARTS's macro network (stem of ``3C`` channels, ``layers`` cells,
reductions at 1/3 and 2/3, global pooling, linear classifier, optional auxiliary head, no drop
path). Its cell operations come in two flavours: DARTS's evaluation operations (affine BatchNorm,
bare pools) and DARTS's search-model operations (non-affine BatchNorm inside the operations, a
non-affine BatchNorm after each pool), which NASLib's ``NasBench301SearchSpace`` uses. The space's
``build`` defaults to the network NAS-Bench-Suite-Zero scored the 725 NB301 genotypes on
(C=32, 8 cells, search-model operations, no auxiliary head): see :meth:`DartsSpace.build`.
:class:`DartsSupernet` is the one-shot model (8 mixed ops on 14 edges per cell type,
``alphas_normal`` / ``alphas_reduce`` of shape (14, 8), masks), used by TE-NAS pruning and
FreeDARTS/ZEROS.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.spaces import register_space
from trainfree.spaces.base import InvalidArchError, SearchSpace
from trainfree.spaces.nb201 import mixing_weights
from trainfree.spaces.pooling import AvgPool2d
from trainfree.spaces.supernet import Supernet

PRIMITIVES: tuple[str, ...] = (
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)  # fmt: skip
GENOTYPE_OPS: tuple[str, ...] = PRIMITIVES[1:]
"""The 7 trained operations, in the order of NASLib's compact op indices; ``none`` is the 8th."""
STEPS = 4
CONCAT: tuple[int, ...] = (2, 3, 4, 5)
NUM_EDGES = sum(2 + i for i in range(STEPS))  # 14
CELL_TYPES: tuple[str, ...] = ("normal", "reduce")

Pair = tuple[str, int]
Cell = tuple[Pair, ...]


def node_edges(node: int) -> range:
    """Edge indices (rows of a (14, 8) alpha matrix) entering intermediate node ``node`` (0..3)."""
    start = sum(2 + i for i in range(node))
    return range(start, start + 2 + node)


EDGE_GROUPS: tuple[range, ...] = tuple(node_edges(i) for i in range(STEPS))


# ----------------------------------------------------------------------------- genotypes


@dataclass(frozen=True)
class Genotype:
    """A DARTS architecture: 8 (op, input) pairs per cell type, 2 per node."""

    normal: Cell
    reduce: Cell

    def __str__(self) -> str:
        concat = list(CONCAT)
        return (
            f"Genotype(normal={list(self.normal)}, normal_concat={concat}, "
            f"reduce={list(self.reduce)}, reduce_concat={concat})"
        )

    def cell(self, cell_type: str) -> Cell:
        return self.normal if cell_type == "normal" else self.reduce


_LIST = r"\[[^\]]*\]"
_CONCAT = r"\[[^\]]*\]|range\(\s*\d+\s*,\s*\d+\s*\)"
_GENOTYPE_RE = re.compile(
    rf"^\s*Genotype\(\s*normal\s*=\s*(?P<normal>{_LIST})\s*,"
    rf"\s*normal_concat\s*=\s*(?P<normal_concat>{_CONCAT})\s*,"
    rf"\s*reduce\s*=\s*(?P<reduce>{_LIST})\s*,"
    rf"\s*reduce_concat\s*=\s*(?P<reduce_concat>{_CONCAT})\s*\)\s*$"
)
_RANGE_RE = re.compile(r"range\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def _literal(text: str, what: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise InvalidArchError(f"DARTS genotype: cannot read {what} {text!r}") from exc


def _concat(text: str, what: str) -> list[int]:
    match = _RANGE_RE.fullmatch(text.strip())
    value = list(range(int(match[1]), int(match[2]))) if match else _literal(text, what)
    if value != list(CONCAT):
        raise InvalidArchError(f"DARTS genotype: {what} must be {list(CONCAT)}, got {text}")
    return value


def _check_pair(pair: object, node: int, what: str) -> Pair:
    if not (isinstance(pair, tuple | list) and len(pair) == 2):
        raise InvalidArchError(f"DARTS genotype: {what} entries must be (op, input) pairs")
    op, src = pair
    if op not in PRIMITIVES:
        raise InvalidArchError(f"DARTS genotype: unknown op {op!r} in {what}")
    if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < node + 2:
        raise InvalidArchError(
            f"DARTS genotype: node {node + 2} in {what} cannot take input {src!r} "
            f"(allowed 0..{node + 1})"
        )
    return op, src


def canonical_cell(pairs: Sequence[object], what: str) -> Cell:
    """Validate one cell's 8 pairs and sort each node's two pairs by (input, op order)."""
    if not isinstance(pairs, list | tuple) or len(pairs) != 2 * STEPS:
        raise InvalidArchError(f"DARTS genotype: {what} must list {2 * STEPS} (op, input) pairs")
    cell: list[Pair] = []
    for node in range(STEPS):
        two = [_check_pair(p, node, what) for p in pairs[2 * node : 2 * node + 2]]
        if two[0][1] == two[1][1]:
            raise InvalidArchError(
                f"DARTS genotype: node {node + 2} in {what} uses input {two[0][1]} twice"
            )
        cell += sorted(two, key=lambda p: (p[1], PRIMITIVES.index(p[0])))
    return tuple(cell)


def _compact_pair(pair: object, what: str) -> Pair:
    """A NASLib ``(input, op index)`` pair as a genotype ``(op, input)`` pair."""
    if not (isinstance(pair, tuple | list) and len(pair) == 2):
        raise InvalidArchError(f"NASLib compact genotype: {what} entries must be (input, op) pairs")
    src, op = pair
    if isinstance(op, bool) or not isinstance(op, int) or not 0 <= op < len(GENOTYPE_OPS):
        raise InvalidArchError(f"NASLib compact genotype: op index {op!r} in {what} is not in 0..6")
    return GENOTYPE_OPS[op], src


def parse_compact(key: str | Sequence[object]) -> Genotype:
    """Parse NASLib's compact genotype (a json key of ``zc_nasbench301.json`` or the nested
    sequence itself): ``[[8 x (input, op index)], [8 x (input, op index)]]``, normal cell first."""
    value = _literal(key, "compact genotype") if isinstance(key, str) else key
    if not (isinstance(value, list | tuple) and len(value) == len(CELL_TYPES)):
        raise InvalidArchError(
            "NASLib compact genotype must be [[normal: 8 x (input, op)], [reduce: 8 x (input, op)]]"
        )
    cells = []
    for cell_type, pairs in zip(CELL_TYPES, value, strict=True):
        if not isinstance(pairs, list | tuple) or len(pairs) != 2 * STEPS:
            raise InvalidArchError(
                f"NASLib compact genotype: {cell_type} must list {2 * STEPS} (input, op) pairs"
            )
        cells.append(canonical_cell([_compact_pair(p, cell_type) for p in pairs], cell_type))
    return Genotype(*cells)


def to_compact(genotype: Genotype) -> str:
    """NASLib's compact spelling of ``genotype`` (``none`` edges have no NASLib op index)."""
    cells = []
    for cell_type in CELL_TYPES:
        cell = genotype.cell(cell_type)
        if any(op == "none" for op, _ in cell):
            raise InvalidArchError(f"NASLib's compact genotype has no 'none' op ({cell_type})")
        cells.append([(src, GENOTYPE_OPS.index(op)) for op, src in cell])
    return str(cells)


def parse_genotype(text: str) -> Genotype:
    """Parse DARTS's ``Genotype(...)`` string or NASLib's compact genotype (never ``eval``);
    raise :class:`InvalidArchError`."""
    if not isinstance(text, str):
        raise InvalidArchError(f"DARTS genotype must be a string, got {type(text).__name__}")
    if text.lstrip().startswith(("[", "(")):
        return parse_compact(text)
    match = _GENOTYPE_RE.match(text)
    if match is None:
        raise InvalidArchError(
            "DARTS genotype must look like Genotype(normal=[...], normal_concat=[2, 3, 4, 5], "
            "reduce=[...], reduce_concat=[2, 3, 4, 5]) or NASLib's [[(input, op), ...], [...]]"
        )
    for cell_type in CELL_TYPES:
        _concat(match[f"{cell_type}_concat"], f"{cell_type}_concat")
    normal, reduce = (canonical_cell(_literal(match[t], t), t) for t in CELL_TYPES)
    return Genotype(normal, reduce)


DARTS_V1 = (
    "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])"
)
"""DARTS (first order), as published in DARTS's ``genotypes.py``."""

DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
"""DARTS (second order), the paper's CIFAR-10 cell: 3.3M parameters at C=36, 20 cells."""


def discretise(scores: Sequence[torch.Tensor]) -> str:
    """DARTS's discretisation of (14, 8) op scores for the normal and reduction cell.

    For each node keep the two incoming edges with the largest best non-``none`` score, and on
    each the best non-``none`` op (Liu et al. 2019, section 2.4). Masked candidates should carry
    ``-inf``. Raises :class:`TrainfreeError` on non-finite winners.
    """
    cells = []
    for cell_type, table in zip(CELL_TYPES, scores, strict=True):
        values = torch.as_tensor(table, dtype=torch.float64).cpu()
        if values.shape != (NUM_EDGES, len(PRIMITIVES)):
            raise TrainfreeError(f"{cell_type} scores must have shape (14, 8), got {values.shape}")
        best_value, best_op = values[:, 1:].max(dim=1)
        pairs: list[Pair] = []
        for group in EDGE_GROUPS:
            chosen = sorted(group, key=lambda e: -best_value[e].item())[:2]
            if not all(torch.isfinite(best_value[e]) for e in chosen):
                raise TrainfreeError(f"{cell_type} cell: a node has fewer than 2 usable edges")
            pairs += [(GENOTYPE_OPS[int(best_op[e])], e - group.start) for e in chosen]
        cells.append(canonical_cell(pairs, cell_type))
    return str(Genotype(*cells))


# ----------------------------------------------------------------------------- operations


def _bn(channels: int, affine: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=affine)


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution, BatchNorm (DARTS's ``ReLUConvBN``)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        super().__init__(nn.ReLU(inplace=False), conv, _bn(c_out, affine))


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) conv, pointwise conv, BatchNorm (DARTS's ``DilConv``)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            _bn(c_out, affine),
        )


class SepConv(nn.Sequential):
    """Two stacked (ReLU, depthwise conv, pointwise conv, BN) blocks (DARTS's ``SepConv``)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two stride-2 1x1 convs, the second on the input shifted by one
    pixel (DARTS). Zero-padding before the shift (as TE-NAS) admits odd sizes and an odd
    ``c_out`` (down to 1, for thin networks); on even sizes it equals DARTS's version."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        paths = [(w, shift) for w, shift in ((c_out // 2, False), (c_out - c_out // 2, True)) if w]
        self.shifts = [shift for _, shift in paths]
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList(nn.Conv2d(c_in, w, 1, stride=2, bias=False) for w, _ in paths)
        self.bn = _bn(c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        outs = [conv(shifted if s else x) for conv, s in zip(self.convs, self.shifts, strict=True)]
        return self.bn(torch.cat(outs, dim=1))


class Zero(nn.Module):
    """The ``none`` operation: zeros at the output resolution."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def make_op(
    name: str, channels: int, stride: int, *, affine: bool = True, pool_bn: bool = False
) -> nn.Module:
    """Build one DARTS operation; the search model adds a non-affine BN after pools."""
    ops = {
        "none": lambda: Zero(stride),
        "max_pool_3x3": lambda: nn.MaxPool2d(3, stride=stride, padding=1),
        "avg_pool_3x3": lambda: AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
        "skip_connect": lambda: (
            nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, affine)
        ),
        "sep_conv_3x3": lambda: SepConv(channels, channels, 3, stride, 1, affine),
        "sep_conv_5x5": lambda: SepConv(channels, channels, 5, stride, 2, affine),
        "dil_conv_3x3": lambda: DilConv(channels, channels, 3, stride, 2, 2, affine),
        "dil_conv_5x5": lambda: DilConv(channels, channels, 5, stride, 4, 2, affine),
    }
    op = ops[name]()
    if pool_bn and "pool" in name:
        op = nn.Sequential(op, _bn(channels, affine=False))
    return op


# ----------------------------------------------------------------------------- networks


def reduction_layers(layers: int) -> set[int]:
    """Cells that halve the resolution: DARTS's ``layers // 3`` and ``2 * layers // 3``; for two
    cells, normal then reduction (TE-NAS's depth-2 DARTS supernet); for one, a normal cell."""
    if layers >= 3:
        return {layers // 3, 2 * layers // 3}
    return set(range(1, layers))


def _check_sizes(C: int, layers: int) -> None:
    if C < 1 or layers < 1:
        raise TrainfreeError(f"DARTS networks need C >= 1 and layers >= 1, got C={C}, {layers=}")


class _Macro(nn.Module):
    """Stem, a stack of cells with two inputs each, global pooling and a linear classifier."""

    def __init__(
        self,
        C: int,
        layers: int,
        in_channels: int,
        stem_multiplier: int,
        stem: bool,
        depth: int | None = None,
    ) -> None:
        super().__init__()
        _check_sizes(C, layers)
        if depth is not None and not 1 <= depth <= layers:
            raise TrainfreeError(f"DARTS networks need 1 <= depth <= layers, got {depth=}")
        c_stem = C * stem_multiplier if stem else in_channels
        self.stem = (
            nn.Sequential(
                nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), _bn(c_stem, True)
            )
            if stem
            else nn.Identity()
        )
        self.cells = nn.ModuleList()
        self.reductions = reduction_layers(layers)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self._plan = []
        c_pp, c_p, c_cur, reduction_prev = c_stem, c_stem, C, False
        for i in range(layers if depth is None else depth):
            reduction = i in self.reductions
            c_cur *= 2 if reduction else 1
            self._plan.append((c_pp, c_p, c_cur, reduction, reduction_prev))
            c_pp, c_p, reduction_prev = c_p, len(CONCAT) * c_cur, reduction
        self.out_channels = c_p

    def _head(self, s1: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(s1).flatten(1))


def _preprocess(c_pp: int, c_p: int, c: int, reduction_prev: bool, affine: bool) -> nn.ModuleList:
    pre0 = (
        FactorizedReduce(c_pp, c, affine)
        if reduction_prev
        else ReLUConvBN(c_pp, c, 1, 1, 0, affine)
    )
    return nn.ModuleList([pre0, ReLUConvBN(c_p, c, 1, 1, 0, affine)])


class EvalCell(nn.Module):
    """A discrete DARTS cell (DARTS's ``model.Cell``, drop path off).

    ``affine`` and ``pool_bn`` choose the operations: DARTS's evaluation ones (``True``,
    ``False``) or its search model's (``False``, ``True``), see :func:`make_op`; the two input
    preprocessing layers are affine either way.
    """

    def __init__(
        self,
        pairs: Cell,
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        *,
        affine: bool = True,
        pool_bn: bool = False,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess = _preprocess(c_pp, c_p, c, reduction_prev, affine=True)
        self.inputs = [src for _, src in pairs]
        self.ops = nn.ModuleList(
            make_op(op, c, 2 if reduction and src < 2 else 1, affine=affine, pool_bn=pool_bn)
            for op, src in pairs
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess[0](s0), self.preprocess[1](s1)]
        for node in range(STEPS):
            a, b = 2 * node, 2 * node + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return torch.cat([states[i] for i in CONCAT], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS's auxiliary classifier on the 8x8 feature map after the second reduction."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class NetworkCIFAR(_Macro):
    """DARTS's CIFAR network (``model.NetworkCIFAR``); ``forward`` returns the logits.

    The defaults are DARTS's evaluation network (C=36, 20 cells, evaluation operations);
    ``affine=False, pool_bn=True`` gives the search model's operations, as NASLib's NB301 space.
    ``depth`` keeps only the first ``depth`` cells (TE-NAS's thin linear-region network uses 1;
    no auxiliary head when it cuts before the head's cell).
    ``forward_aux`` also returns the auxiliary head's logits (training mode with
    ``auxiliary=True``; otherwise ``None``).
    """

    def __init__(
        self,
        genotype: Genotype,
        *,
        C: int = 36,
        layers: int = 20,
        num_classes: int = 10,
        in_channels: int = 3,
        auxiliary: bool = False,
        stem_multiplier: int = 3,
        stem: bool = True,
        affine: bool = True,
        pool_bn: bool = False,
        depth: int | None = None,
    ) -> None:
        super().__init__(C, layers, in_channels, stem_multiplier, stem, depth)
        for c_pp, c_p, c, reduction, reduction_prev in self._plan:
            pairs = genotype.reduce if reduction else genotype.normal
            self.cells.append(
                EvalCell(
                    pairs, c_pp, c_p, c, reduction, reduction_prev, affine=affine, pool_bn=pool_bn
                )
            )
        self.aux_index = 2 * layers // 3
        self.auxiliary_head = (
            AuxiliaryHeadCIFAR(self._plan[self.aux_index][2] * len(CONCAT), num_classes)
            if auxiliary and self.aux_index < len(self._plan)
            else None
        )
        self.classifier = nn.Linear(self.out_channels, num_classes)

    def forward_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        return self._head(s1), aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_aux(x)[0]


class MixedOp(nn.Module):
    """All 8 candidate operations on one edge, summed with the edge's mixing weights."""

    def __init__(self, channels: int, stride: int, affine: bool) -> None:
        super().__init__()
        self.ops = nn.ModuleList(
            make_op(p, channels, stride, affine=affine, pool_bn=True) for p in PRIMITIVES
        )

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor, active: Sequence[bool]
    ) -> torch.Tensor:
        return sum(w * op(x) for w, op, on in zip(weights, self.ops, active, strict=True) if on)


class SearchCell(nn.Module):
    """A DARTS search cell: 14 mixed edges, masked edges skipped (DARTS's ``model_search.Cell``)."""

    def __init__(
        self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool, affine: bool
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess = _preprocess(c_pp, c_p, c, reduction_prev, affine=affine)
        self.edges = nn.ModuleList(
            MixedOp(c, 2 if reduction and src < 2 else 1, affine)
            for node in range(STEPS)
            for src in range(2 + node)
        )

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor, mask: list[list[bool]]
    ) -> torch.Tensor:
        states = [self.preprocess[0](s0), self.preprocess[1](s1)]
        for node, group in enumerate(EDGE_GROUPS):
            terms = [
                self.edges[e](states[e - group.start], weights[e], mask[e])
                for e in group
                if any(mask[e])
            ]
            if not terms:
                raise TrainfreeError(f"DARTS supernet: node {node + 2} has no active input edge")
            states.append(sum(terms))
        return torch.cat([states[i] for i in CONCAT], dim=1)


class DartsSupernet(_Macro):
    """The DARTS one-shot model (Liu et al. 2019, ``model_search.Network``): steps 4,
    multiplier 4, 8 ops mixed on 14 edges per cell type.

    ``alphas_normal`` / ``alphas_reduce`` are (14, 8) parameters initialised as in DARTS
    (1e-3 * N(0, 1), from the global torch generator: seed it first). ``mask_normal`` /
    ``mask_reduce`` are boolean buffers of active ops; searches prune by clearing entries.
    ``weights`` selects the mixing: ``softmax`` (DARTS) or ``alphas`` (raw, linear in alpha).
    ``affine`` is the cells' BN affinity: False in DARTS's search model, True in TE-NAS's.
    """

    def __init__(
        self,
        *,
        C: int = 16,
        layers: int = 8,
        num_classes: int = 10,
        in_channels: int = 3,
        stem_multiplier: int = 3,
        stem: bool = True,
        affine: bool = False,
        weights: str = "softmax",
    ) -> None:
        super().__init__(C, layers, in_channels, stem_multiplier, stem)
        mixing_weights(torch.zeros(1, 1), torch.ones(1, 1, dtype=torch.bool), weights)
        self.weights = weights
        for c_pp, c_p, c, reduction, reduction_prev in self._plan:
            self.cells.append(SearchCell(c_pp, c_p, c, reduction, reduction_prev, affine))
        self.classifier = nn.Linear(self.out_channels, num_classes)
        shape = (NUM_EDGES, len(PRIMITIVES))
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(shape))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(shape))
        self.register_buffer("mask_normal", torch.ones(shape, dtype=torch.bool))
        self.register_buffer("mask_reduce", torch.ones(shape, dtype=torch.bool))

    @property
    def cell_alphas(self) -> list[nn.Parameter]:
        """Architecture parameters per cell type, in :data:`CELL_TYPES` order."""
        return [self.alphas_normal, self.alphas_reduce]

    @property
    def cell_masks(self) -> list[torch.Tensor]:
        """Active-op masks per cell type, in :data:`CELL_TYPES` order (edit in place)."""
        return [self.mask_normal, self.mask_reduce]

    def mixing(self) -> list[torch.Tensor]:
        """Current (14, 8) mixing weights of the normal and reduction cell."""
        return [
            mixing_weights(a, m, self.weights)
            for a, m in zip(self.cell_alphas, self.cell_masks, strict=True)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.mixing()
        masks = [m.tolist() for m in self.cell_masks]
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            k = int(cell.reduction)
            s0, s1 = s1, cell(s0, s1, weights[k], masks[k])
        return self._head(s1)

    @torch.no_grad()
    def genotype(self) -> str:
        """DARTS's discretisation of the current mixing weights (masked ops excluded)."""
        scores = [
            w.masked_fill(~m, float("-inf"))
            for w, m in zip(self.mixing(), self.cell_masks, strict=True)
        ]
        return discretise(scores)


# ----------------------------------------------------------------------------- space


def _arch_from_choice(choice: list[list[int | None]]) -> str:
    """The genotype a pruned supernet leaves: per cell type, the op left on each kept edge."""
    cells = []
    for ops in choice:
        pairs = [
            (PRIMITIVES[ops[e]], e - group.start)
            for group in EDGE_GROUPS
            for e in group
            if ops[e] is not None
        ]
        cells.append(canonical_cell(pairs, "pruned cell"))
    return str(Genotype(*cells))


#: The variant whose networks are the ones NAS-Bench-Suite-Zero scored NB301's genotypes on.
NB301_NETWORK = "darts[C=32,affine=false,layers=8,pool_bn=true]"


@register_space
class DartsSpace(SearchSpace):
    """DARTS CNN cells (Liu et al., ICLR 2019): 2 cells, 7 ops and none; NB301: a variant."""

    name = "darts"
    #: NB301's validation accuracy of NAS-Bench-Suite-Zero's 725 genotypes.
    benchmarks: ClassVar[Mapping[str, tuple[str, str]]] = {
        "*": ("darts/naslib_zc_nasbench301.json", "cifar10/val_accuracy")
    }

    def parse(self, arch: str) -> Genotype:
        return parse_genotype(arch)

    def canonical(self, arch: str) -> str:
        """The ``Genotype(...)`` string of a genotype in either spelling (module docstring)."""
        return str(parse_genotype(arch))

    def from_naslib(self, key: str | Sequence[object]) -> str:
        """The canonical string of NASLib's compact genotype (a json key or the nested pairs)."""
        return str(parse_compact(key))

    def to_naslib(self, arch: str) -> str:
        """NASLib's compact spelling of ``arch``, each node's pairs in canonical order."""
        return to_compact(parse_genotype(arch))

    @staticmethod
    def _random_cell(rng: random.Random) -> Cell:
        pairs: list[Pair] = []
        for node in range(STEPS):
            pairs += [(rng.choice(GENOTYPE_OPS), s) for s in rng.sample(range(2 + node), 2)]
        return canonical_cell(pairs, "sampled cell")

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """``n`` distinct genotypes, uniform over valid genotypes (each node: a uniform pair of
        distinct inputs, a uniform op on each)."""
        rng = random.Random(seed)
        archs: dict[str, None] = {}
        while len(archs) < n:
            archs[str(Genotype(self._random_cell(rng), self._random_cell(rng)))] = None
        return list(archs)

    @staticmethod
    def _cell_neighbours(cell: Cell) -> list[Cell]:
        out = []
        for slot, (op, src) in enumerate(cell):
            node = slot // 2
            other_src = cell[slot ^ 1][1]
            changes = [(o, src) for o in GENOTYPE_OPS if o != op]
            changes += [(op, s) for s in range(2 + node) if s not in (src, other_src)]
            for change in changes:
                pairs = list(cell)
                pairs[slot] = change
                out.append(canonical_cell(pairs, "cell"))
        return out

    def neighbours(self, arch: str) -> list[str]:
        """Every genotype differing in one op or one input of one node (120 per genotype)."""
        g = parse_genotype(arch)
        out = [str(Genotype(c, g.reduce)) for c in self._cell_neighbours(g.normal)]
        out += [str(Genotype(g.normal, c)) for c in self._cell_neighbours(g.reduce)]
        return list(dict.fromkeys(out))

    def mutate(self, arch: str, rng: random.Random) -> str:
        """A uniformly random neighbour: one op or one input of one node changed."""
        return rng.choice(self.neighbours(arch))

    def build(
        self,
        arch: str,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        C: int = 36,
        layers: int | None = None,
        N: int | None = None,
        affine: bool = True,
        pool_bn: bool = False,
        auxiliary: bool = False,
        stem_multiplier: int = 3,
        stem: bool = True,
        depth: int | None = None,
    ) -> NetworkCIFAR:
        """:class:`NetworkCIFAR` of ``arch``: by default DARTS's evaluation network (C=36, 20
        cells, affine operations; 3,349,342 parameters for DARTS V2), the one the space always
        built, so that scores stored under ``darts`` keep meaning that network.

        The network on which NAS-Bench-Suite-Zero computed its NB301 zero-cost scores is the
        variant :data:`NB301_NETWORK` (``darts[C=32,affine=false,layers=8,pool_bn=true]``):
        NASLib's ``NasBench301SearchSpace`` as of 2022 (stage channels 32, 64, 128; 8 cells;
        search-model operations ``affine=False, pool_bn=True``; its auxiliary head never built,
        as ``prepare_evaluation`` was not called). Its trainable-parameter count equals NASLib's
        ``params`` for all 725 genotypes of ``zc_nasbench301.json``; it is also NB301's training
        network (32 initial channels, 8 cells), and costs a fraction of DARTS's. (NASLib later
        cut the channels to 16, 32, 64.) The auxiliary head is ``auxiliary=True``. ``N`` (cells
        per stage, as in NB201) gives ``layers = 3 * N + 2``; ``stem=False`` feeds the input to
        the first cell directly and ``depth`` keeps the first ``depth`` cells (thin networks for
        linear-region counting)."""
        return NetworkCIFAR(
            parse_genotype(arch),
            C=C,
            layers=_layers(layers, N, default=20),
            num_classes=num_classes,
            in_channels=in_channels,
            auxiliary=auxiliary,
            stem_multiplier=stem_multiplier,
            stem=stem,
            affine=affine,
            pool_bn=pool_bn,
            depth=depth,
        )


def _layers(layers: int | None, N: int | None, *, default: int) -> int:
    if layers is not None and N is not None and layers != 3 * N + 2:
        raise TrainfreeError(f"DARTS: layers={layers} contradicts N={N} (layers = 3N + 2)")
    if layers is not None:
        return layers
    return default if N is None else 3 * N + 2


def build_darts_supernet(
    *,
    C: int = 16,
    layers: int | None = None,
    N: int | None = None,
    num_classes: int = 10,
    in_channels: int = 3,
    stem_multiplier: int = 3,
    stem: bool = True,
    affine: bool = False,
    weights: str = "softmax",
) -> DartsSupernet:
    """The DARTS supernet (defaults: DARTS's search model, C=16, 8 cells)."""
    return DartsSupernet(
        C=C,
        layers=_layers(layers, N, default=8),
        num_classes=num_classes,
        in_channels=in_channels,
        stem_multiplier=stem_multiplier,
        stem=stem,
        affine=affine,
        weights=weights,
    )


DartsSpace.supernet = Supernet(
    DartsSpace.name, PRIMITIVES, EDGE_GROUPS, build_darts_supernet, _arch_from_choice
)


def count_parameters(model: nn.Module, *, exclude: str = "auxiliary") -> int:
    """Number of parameters, excluding those whose name contains ``exclude`` (DARTS convention)."""
    return sum(p.numel() for name, p in model.named_parameters() if exclude not in name)


__all__ = [
    "CELL_TYPES",
    "DARTS_V1",
    "DARTS_V2",
    "EDGE_GROUPS",
    "GENOTYPE_OPS",
    "PRIMITIVES",
    "DartsSpace",
    "DartsSupernet",
    "Genotype",
    "NetworkCIFAR",
    "build_darts_supernet",
    "count_parameters",
    "discretise",
    "node_edges",
    "parse_compact",
    "parse_genotype",
    "to_compact",
]
