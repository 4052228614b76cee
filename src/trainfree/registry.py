"""A small name -> object registry in the spirit of timm's model registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from trainfree.errors import TrainfreeError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps unique lowercase names to registered objects.

    >>> r: Registry[int] = Registry("number")
    >>> r.add("one", 1)
    >>> r.get("one")
    1
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        key = name.lower()
        if key in self._items:
            raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items[key] = item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            self.add(name, item)
            return item

        return deco

    def get(self, name: str) -> T:
        key = name.lower()
        if key not in self._items:
            known = ", ".join(sorted(self._items)) or "none"
            raise TrainfreeError(f"unknown {self.kind} {name!r} (known: {known})")
        return self._items[key]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
