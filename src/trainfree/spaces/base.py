"""The interface every search space implements.

Architectures travel through the library as canonical strings; a space parses, formats,
samples, mutates and builds them. A space never imports a proxy.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator

from torch import nn

from trainfree.errors import TrainfreeError


class SearchSpace(ABC):
    """A set of architectures, each named by a canonical string.

    Subclasses set ``name`` and implement the abstract methods. ``build`` accepts the keyword
    overrides ``num_classes`` and ``in_channels`` in every space, plus space-specific size
    keywords (for example ``C`` and ``N`` for cell spaces) so that proxies such as TE-NAS's
    linear-region count can ask for a thin copy of the same architecture.
    """

    name: str = ""

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

    def size(self) -> int | None:
        """Number of architectures, or ``None`` when the space is not enumerable."""
        return None

    def enumerate(self) -> Iterator[str]:
        """Every architecture in canonical order (finite spaces only)."""
        raise TrainfreeError(f"space {self.name!r} cannot be enumerated")

    def describe(self) -> str:
        """One line for ``trainfree spaces``."""
        doc = (self.__class__.__doc__ or "").strip().splitlines()
        return doc[0] if doc else self.name


class InvalidArchError(TrainfreeError):
    """An architecture string that does not belong to the space."""
