"""Uniform access to a space's supernet for the pruning searches (TE-NAS, ZEROS).

A supernet exposes, per cell type (NB201: one; DARTS: normal, reduce), an alpha matrix and a boolean
mask of active operations with rows = edges and columns = :attr:`PruningSpace.op_names`. Pruning
clears mask entries; the final architecture is read from the mask (NB201: the one op left on each
edge; DARTS: the op left on each of the two edges left per node).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.spaces import SPACES, SearchSpace, get_space
from trainfree.spaces.supernet import Supernet
from trainfree.variants import split_variant

#: The capability pruning searches read from a space (:attr:`SearchSpace.supernet`).
PruningSpace = Supernet


def pruning_space(space: SearchSpace | str) -> Supernet:
    """The supernet of ``space`` (a space or its name); a one-line error when it has none."""
    space = get_space(space) if isinstance(space, str) else space
    base, sizes = split_variant(space.name)
    if sizes is not None and space.supernet is not None:
        raise TrainfreeError(
            f"pruning searches build their own supernet: use space {base!r} and give the sizes "
            f'{sizes} in the search option supernet (-o "supernet={{...}}")'
        )
    if space.supernet is None:
        known = ", ".join(n for n in SPACES.names() if SPACES.get(n).supernet is not None)
        raise TrainfreeError(
            f"pruning searches need a supernet; space {space.name!r} has none (known: {known})"
        )
    return space.supernet


def cell_alphas(net: nn.Module) -> list[nn.Parameter]:
    """The alpha matrices of ``net``, one per cell type."""
    return list(getattr(net, "cell_alphas", None) or [net.alphas])


def cell_masks(net: nn.Module) -> list[torch.Tensor]:
    """The boolean active-op masks of ``net`` (live buffers), one per cell type."""
    return list(getattr(net, "cell_masks", None) or [net.mask])


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
