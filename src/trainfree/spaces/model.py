"""A user's own networks as a search space: ``get_space("model:package.module:factory")``.

A *model factory* is any callable that returns an ``nn.Module``. Its architectures are:

* the strings passed to it, when its first parameter is positional and has no default
  (``factory(arch)``): any non-empty string, which only the factory validates; the space can
  then neither sample nor mutate (give the architectures explicitly);
* otherwise the single architecture :data:`DEFAULT_ARCH` (``factory()``; an empty string names
  it too).

``build`` passes the data's ``num_classes`` (and ``in_features`` for rows of tabular data) to
the factory when it accepts them; otherwise the factory's own head stays. Proxies that score a
re-built copy of the network with other size keywords (TE-NAS's thin networks: ``C``, ``N``,
``in_channels``...) need a factory that accepts those keywords; with any other factory they
fail with one line naming the missing keyword. Scores of a factory are stored under the space
name ``model:<reference>``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

from torch import nn

from trainfree.errors import TrainfreeError
from trainfree.spaces.base import InvalidArchError, SearchSpace

#: Prefix of a model space's name: ``model:package.module:factory``.
PREFIX = "model:"
#: The one architecture of a factory that takes no architecture string.
DEFAULT_ARCH = "default"

ModelFactory = Callable[..., nn.Module]
#: Keywords ``build`` receives from the data; a factory that does not take them keeps its own.
DATA_KEYWORDS = ("num_classes", "in_features")


def _describe_factory(factory: ModelFactory) -> str:
    module = getattr(factory, "__module__", None) or "?"
    return f"{module}:{getattr(factory, '__qualname__', type(factory).__name__)}"


def takes_arch(factory: ModelFactory) -> bool:
    """Whether ``factory``'s first parameter is positional without a default (an arch string)."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: call it without arguments
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    first = params[0] if params else None
    return first is not None and first.kind in positional and first.default is first.empty


def _keywords(factory: ModelFactory) -> tuple[frozenset[str], bool]:
    """The keyword names ``factory`` accepts, and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return frozenset(), False
    names = frozenset(p.name for p in params if p.kind not in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL))
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


class ModelSpace(SearchSpace):
    """The networks a user's model factory builds (``model:package.module:factory``)."""

    def __init__(self, factory: ModelFactory, name: str | None = None) -> None:
        if not callable(factory):
            raise TrainfreeError(f"a model factory must be callable, got {type(factory).__name__}")
        self.factory = factory
        self.name = name or PREFIX + _describe_factory(factory)
        self.takes_arch = takes_arch(factory)
        self._keywords, self._any_keyword = _keywords(factory)

    def canonical(self, arch: str) -> str:
        arch = arch.strip()
        if self.takes_arch:
            if not arch:
                raise InvalidArchError(f"{self.name}: an architecture string must not be empty")
            return arch
        if arch not in (DEFAULT_ARCH, ""):
            raise InvalidArchError(
                f"{self.name} builds one network, named {DEFAULT_ARCH!r}, got {arch!r} "
                "(a factory whose first parameter has no default receives the arch string)"
            )
        return DEFAULT_ARCH

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        if self.takes_arch:
            raise TrainfreeError(f"{self.name} cannot sample architectures; list them explicitly")
        if n != 1:
            raise TrainfreeError(f"{self.name} holds one architecture, cannot sample {n}")
        return [DEFAULT_ARCH]

    def mutate(self, arch: str, rng: random.Random) -> str:
        raise TrainfreeError(f"{self.name} cannot mutate architectures (a user's model factory)")

    def neighbours(self, arch: str) -> list[str]:
        raise TrainfreeError(f"{self.name} has no neighbourhood (a user's model factory)")

    def size(self) -> int | None:
        return None if self.takes_arch else 1

    def enumerate(self) -> Iterator[str]:
        if self.takes_arch:
            return super().enumerate()
        return iter([DEFAULT_ARCH])

    def build(self, arch: str, **kwargs: Any) -> nn.Module:
        """``factory(arch, **kwargs)`` (or ``factory(**kwargs)``). The data's keywords
        (:data:`DATA_KEYWORDS`) reach the factory only when it accepts them; any other keyword
        (a size a proxy asks for) must be accepted, or a one-line
        :class:`~trainfree.errors.TrainfreeError` names
        it."""
        arch = self.canonical(arch)
        accepted = {k: v for k, v in kwargs.items() if self._any_keyword or k in self._keywords}
        missing = [k for k in kwargs if k not in accepted and k not in DATA_KEYWORDS]
        if missing:
            asked = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k not in DATA_KEYWORDS)
            raise TrainfreeError(
                f"model factory {self.reference} takes no keyword {missing[0]!r} "
                f"(asked for a network built with {asked})"
            )
        model = self.factory(arch, **accepted) if self.takes_arch else self.factory(**accepted)
        if not isinstance(model, nn.Module):
            raise TrainfreeError(
                f"model factory {self.reference} returned {type(model).__name__}, "
                "not a torch.nn.Module"
            )
        return model

    @property
    def reference(self) -> str:
        """``package.module:factory``."""
        return self.name.removeprefix(PREFIX)

    def describe(self) -> str:
        return f"networks of the model factory {self.reference}"


def _import(module: str) -> Any:
    """Import ``module``; when it is not found, retry with the working directory on the path
    (as a script run from there would find it), so ``model:mymodels:net`` works from a shell."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        missing = (exc.name or "").partition(".")[0]
        if missing != module.partition(".")[0] or cwd in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module)


def resolve_factory(reference: str) -> ModelFactory:
    """The callable named by ``package.module:attribute`` (``attribute`` may be dotted)."""
    module, sep, attribute = reference.strip().partition(":")
    if not (sep and module and attribute):
        raise TrainfreeError(f"model reference {reference!r} must look like package.module:factory")
    try:
        target = _import(module)
    except ImportError as exc:
        raise TrainfreeError(f"cannot import model module {module!r}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise TrainfreeError(f"model module {module!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise TrainfreeError(f"model factory {reference!r} is not callable")
    return target


def model_space(reference: str) -> ModelSpace:
    """The space of the factory ``package.module:factory`` (``get_space("model:...")``)."""
    reference = reference.strip()
    return ModelSpace(resolve_factory(reference), name=PREFIX + reference)
