"""The interface every search space implements.

Architectures travel through the library as canonical strings; a space parses, formats,
samples, mutates and builds them. A space never imports a proxy.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from trainfree.complexity import meta_complexity
from trainfree.errors import TrainfreeError

if TYPE_CHECKING:
    from trainfree.spaces.supernet import Supernet


class SearchSpace(ABC):
    """A set of architectures, each named by a canonical string.

    Subclasses set ``name`` and implement the abstract methods. ``build`` accepts the keyword
    overrides ``num_classes`` and ``in_channels`` in every space, plus space-specific size
    keywords (for example ``C`` and ``N`` for cell spaces) so that proxies such as TE-NAS's
    linear-region count can ask for a thin copy of the same architecture.
    """

    name: str = ""
    #: The space's supernet for pruning searches (TE-NAS, FreeDARTS), or ``None``.
    supernet: ClassVar[Supernet | None] = None
    #: Ground-truth tables of the space under the data folder, per dataset the proxies see
    #: (``"*"``: any): ``{dataset: (relative path, target column)}``; a search is judged by it
    #: by default.
    benchmarks: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: Input side, number of classes and counting convention (:mod:`trainfree.complexity`)
    #: of the MACs/FLOPs/params that :meth:`complexity` reports: the benchmark's own.
    default_image_size: ClassVar[int] = 32
    default_num_classes: ClassVar[int] = 10
    complexity_convention: ClassVar[str] = "conv_linear"

    @abstractmethod
    def canonical(self, arch: str) -> str:
        """Validate ``arch`` and return its canonical string; raise :class:`InvalidArchError`."""

    @abstractmethod
    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """Draw ``n`` architectures uniformly at random (without replacement where finite)."""

    @abstractmethod
    def mutate(self, arch: str, rng: random.Random) -> str:
        """Return a random neighbour of ``arch`` that differs from it."""

    @abstractmethod
    def neighbours(self, arch: str) -> list[str]:
        """All architectures one mutation away from ``arch``."""

    @abstractmethod
    def build(
        self, arch: str, *, num_classes: int = 10, in_channels: int = 3, **kwargs
    ) -> nn.Module:
        """Build the untrained PyTorch network of ``arch`` (PyTorch default initialisation)."""

    def arch_info(self, arch: str) -> dict[str, Any]:
        """Extra facts about ``arch`` to report beside its scores (NB101: the benchmark's
        module hash); none by default."""
        return {}

    def size(self) -> int | None:
        """Number of architectures, or ``None`` when the space is not enumerable."""
        return None

    def enumerate(self) -> Iterator[str]:
        """Every architecture in canonical order (finite spaces only)."""
        raise TrainfreeError(f"space {self.name!r} cannot be enumerated")

    def complexity(self, arch: str, *, image_size: int | None = None) -> dict[str, int]:
        """``{"macs", "flops", "params"}`` of ``arch``'s network for one 3-channel image of
        ``image_size`` (default :attr:`default_image_size`) and :attr:`default_num_classes`
        classes, counted under :attr:`complexity_convention`; ``flops`` is ``2 * macs``.

        This default builds the network on the ``meta`` device (shapes only) and counts it,
        memoised per (architecture, image size); spaces may override it with a faster count.
        """
        size = self.default_image_size if image_size is None else image_size
        key = (self.canonical(arch), size)
        cache = self.__dict__.setdefault("_complexity_cache", {})
        if key not in cache:
            counted = meta_complexity(
                lambda: self.build(key[0], num_classes=self.default_num_classes),
                (1, 3, size, size),
                convention=self.complexity_convention,
            )
            cache[key] = counted.as_dict()
        return dict(cache[key])

    def describe(self) -> str:
        """One line for ``trainfree spaces``."""
        doc = (self.__class__.__doc__ or "").strip().splitlines()
        return doc[0] if doc else self.name


class InvalidArchError(TrainfreeError):
    """An architecture string that does not belong to the space."""
