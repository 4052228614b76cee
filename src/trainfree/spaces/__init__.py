"""Search spaces, registered by name: ``get_space("nb201")``, ``get_space("nb201[C=4,N=1]")``."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.registry import Registry, import_submodules, load_plugins
from trainfree.spaces.base import InvalidArchError, SearchSpace
from trainfree.variants import assignments, parse_value, split_variant, variant_name

SPACES: Registry[type[SearchSpace]] = Registry("space")


def register_space(cls: type[SearchSpace]) -> type[SearchSpace]:
    """Class decorator: register a :class:`SearchSpace` under its ``name``."""
    SPACES.add(cls.name, cls)
    return cls


#: Keywords of ``build`` that every space takes from the data, not from a variant.
_DATA_KEYWORDS = ("num_classes", "in_channels")


def size_options(cls: type[SearchSpace]) -> dict[str, Any]:
    """The size keywords of ``cls.build`` a variant can set, with their defaults."""
    signature = inspect.signature(cls.build).parameters
    return {
        key: p.default
        for key, p in signature.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and key not in _DATA_KEYWORDS
    }


def _sized(cls: type[SearchSpace], args: str) -> SearchSpace:
    """An instance of ``cls`` whose ``build`` defaults are replaced by ``args`` (``C=4,N=1``)."""
    known = size_options(cls)
    sizes: dict[str, Any] = {}
    for key, text, sep in assignments(args):
        if not (sep and key in known):
            names = ", ".join(known) or "none"
            raise TrainfreeError(
                f"space {cls.name!r} has no size {key!r} (known: {names}); "
                f"use {cls.name}[key=value,...]"
            )
        sizes[key] = parse_value("space size", key, text, known[key])
    if not sizes:
        raise TrainfreeError(f"empty size list in {cls.name}[]")

    def build(self: SearchSpace, arch: str, **kwargs: Any) -> nn.Module:
        return cls.build(self, arch, **{**sizes, **kwargs})

    build.__doc__ = f"{cls.build.__doc__ or ''} Defaults here: {sizes}."
    name = variant_name(cls.name, sizes)
    return type(cls.__name__, (cls,), {"name": name, "build": build, "build_sizes": sizes})()


def get_space(name: str) -> SearchSpace:
    """Instantiate the registered space ``name``, or a variant ``name[key=value,...]`` of it.

    A variant changes the size keywords of the space's ``build`` (``nb201[C=4,N=1]``: NB201
    cells in a network of 4 stem channels and one cell per stage), so every proxy scores the
    thinner network; a proxy's own size overrides (TE-NAS's linear regions) still win. Its
    canonical name (keys sorted) is the space name its scores are stored under, so they never
    mix with the full-size ones. Supernet searches (TE-NAS, FreeDARTS) take their sizes as
    search options.

    ``model:package.module:factory`` is the space of a user's model factory
    (:class:`trainfree.spaces.model.ModelSpace`): the module is imported, and architecture
    strings are passed to the factory when it takes one.
    """
    from trainfree.spaces.model import PREFIX, model_space

    if name.strip().startswith(PREFIX):
        return model_space(name.strip().removeprefix(PREFIX))
    base, args = split_variant(name)
    cls = SPACES.get(base)
    return cls() if args is None else _sized(cls, args)


import_submodules(__name__)
load_plugins("trainfree.spaces")

__all__ = [
    "SPACES",
    "InvalidArchError",
    "SearchSpace",
    "get_space",
    "register_space",
    "size_options",
]
