"""Search spaces, registered by name: ``get_space("nb201")``."""

from __future__ import annotations

from trainfree.registry import Registry
from trainfree.spaces.base import InvalidArchError, SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry("space")


def register_space(cls: type[SearchSpace]) -> type[SearchSpace]:
    """Class decorator: register a :class:`SearchSpace` under its ``name``."""
    SPACES.add(cls.name, cls)
    return cls


def get_space(name: str) -> SearchSpace:
    """Instantiate the registered space ``name``."""
    return SPACES.get(name)()


def _load_builtin() -> None:
    import importlib

    for module in ("nb201", "darts", "mlp"):
        try:
            importlib.import_module(f"trainfree.spaces.{module}")
        except ModuleNotFoundError as exc:  # a space still under construction
            if exc.name != f"trainfree.spaces.{module}":
                raise


_load_builtin()

__all__ = ["SPACES", "InvalidArchError", "SearchSpace", "get_space", "register_space"]
