"""The capability a space offers pruning searches (TE-NAS, FreeDARTS/ZEROS): a supernet.

A space that can be pruned sets :attr:`~trainfree.spaces.base.SearchSpace.supernet` to a
:class:`Supernet`. Its network exposes, per cell type (NB201: one; DARTS: normal, reduce), an
alpha matrix and a boolean mask of active operations with rows = edges and columns =
:attr:`Supernet.op_names`; pruning clears mask entries and :attr:`Supernet.arch_from_choice`
reads the final architecture from the op left on each edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Supernet:
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
