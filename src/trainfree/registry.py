"""A small name -> object registry in the spirit of timm's model registry."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
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


class PluginWarning(UserWarning):
    """A third-party plugin (an entry point) could not be imported; the rest goes on."""


def import_submodules(package: str) -> None:
    """Import every module of ``package``: each registers what it defines, so a new proxy,
    space or search is one file and one registration. Import errors propagate (a typo or a
    missing dependency must not silently drop a built-in)."""
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{info.name}")


def load_plugins(group: str) -> list[str]:
    """Import the entry points of ``group`` (``trainfree.proxies``, ``trainfree.spaces``,
    ``trainfree.searches``); importing one registers its objects. A plugin that fails to
    import is reported by one :class:`PluginWarning` naming it and skipped. Returns the names
    of the plugins loaded."""
    loaded = []
    for point in entry_points(group=group):
        try:
            point.load()
        except Exception as exc:  # a broken plugin must not break the built-ins
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.warn(
                f"plugin {point.name!r} ({point.value}, group {group}) failed to import: {first}",
                PluginWarning,
                stacklevel=2,
            )
        else:
            loaded.append(point.name)
    return loaded
