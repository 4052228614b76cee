"""Uniform access to the NB201 and DARTS supernets for the pruning searches (TE-NAS, ZEROS).

A supernet exposes, per cell type (NB201: one; DARTS: normal, reduce), an alpha matrix and a boolean
mask of active operations with rows = edges and columns = :attr:`PruningSpace.op_names`. Pruning
clears mask entries; the final architecture is read from the mask (NB201: the one op left on each
edge; DARTS: the op left on each of the two edges left per node).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.spaces import SearchSpace
from trainfree.spaces import darts as darts_space
from trainfree.spaces import nb201 as nb201_space
from trainfree.variants import split_variant


@dataclass(frozen=True)
class PruningSpace:
    """What a pruning search needs to know about a cell space.

    ``edge_groups`` lists, per intermediate node, the edges (mask rows) entering it when the final
    architecture keeps a fixed number of them (DARTS: 2 of each group); ``None`` keeps every edge.
    ``build`` makes a supernet from size keywords (``C``, ``N`` or ``layers``, ``stem``...).
    """

    name: str
    op_names: tuple[str, ...]
    edge_groups: tuple[range, ...] | None
    build: Callable[..., nn.Module]
    arch_from_choice: Callable[[list[list[int | None]]], str]

    @property
    def none_index(self) -> int:
        return self.op_names.index("none")


def _nb201_arch(choice: list[list[int | None]]) -> str:
    (ops,) = choice
    return nb201_space.format_arch(["none" if o is None else nb201_space.OPS[o] for o in ops])


def _darts_arch(choice: list[list[int | None]]) -> str:
    cells = []
    for ops in choice:
        pairs = [
            (darts_space.PRIMITIVES[ops[e]], e - group.start)
            for group in darts_space.EDGE_GROUPS
            for e in group
            if ops[e] is not None
        ]
        cells.append(darts_space.canonical_cell(pairs, "pruned cell"))
    return str(darts_space.Genotype(*cells))


PRUNING_SPACES: dict[str, PruningSpace] = {
    "nb201": PruningSpace(
        "nb201", tuple(nb201_space.OPS), None, nb201_space.build_supernet, _nb201_arch
    ),
    "darts": PruningSpace(
        "darts",
        darts_space.PRIMITIVES,
        darts_space.EDGE_GROUPS,
        darts_space.build_darts_supernet,
        _darts_arch,
    ),
}


def pruning_space(space: SearchSpace | str) -> PruningSpace:
    name = space if isinstance(space, str) else space.name
    base, sizes = split_variant(name)
    if sizes is not None and base in PRUNING_SPACES:
        raise TrainfreeError(
            f"pruning searches build their own supernet: use space {base!r} and give the sizes "
            f'{sizes} in the search option supernet (-o "supernet={{...}}")'
        )
    if name not in PRUNING_SPACES:
        known = ", ".join(PRUNING_SPACES)
        raise TrainfreeError(f"pruning searches need a supernet; space {name!r} has none ({known})")
    return PRUNING_SPACES[name]


def cell_alphas(net: nn.Module) -> list[nn.Parameter]:
    """The alpha matrices of ``net``, one per cell type."""
    if isinstance(net, darts_space.DartsSupernet):
        return net.cell_alphas
    return [net.alphas]


def cell_masks(net: nn.Module) -> list[torch.Tensor]:
    """The boolean active-op masks of ``net`` (live buffers), one per cell type."""
    if isinstance(net, darts_space.DartsSupernet):
        return net.cell_masks
    return [net.mask]


@torch.no_grad()
def set_masks(net: nn.Module, masks: Sequence[torch.Tensor]) -> None:
    for live, value in zip(cell_masks(net), masks, strict=True):
        live.copy_(value)


@torch.no_grad()
def set_alphas(net: nn.Module, value: float) -> None:
    for alpha in cell_alphas(net):
        alpha.fill_(value)


def single_choice(masks: Sequence[torch.Tensor]) -> list[list[int | None]]:
    """The op left on each edge (``None`` for a fully pruned edge); raise if any edge has more."""
    choice = []
    for mask in masks:
        counts = mask.sum(dim=1).tolist()
        if any(c > 1 for c in counts):
            raise TrainfreeError("pruning left an edge with more than one operation")
        choice.append(
            [int(row.nonzero()[0]) if c else None for row, c in zip(mask, counts, strict=True)]
        )
    return choice


def describe_masks(op_names: Sequence[str], masks: Sequence[torch.Tensor]) -> str:
    """Active ops per edge, e.g. ``nor_conv_3x3+skip_connect|...``; cell types joined by ``;``."""
    return ";".join(
        "|".join("+".join(op_names[o] for o in row.nonzero().flatten().tolist()) for row in mask)
        for mask in masks
    )
