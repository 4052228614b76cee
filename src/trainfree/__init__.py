"""trainfree: training-free neural architecture search.

Score untrained networks with zero-cost proxies, check the scores against real benchmark
accuracies, and search architecture spaces with them. The public API is this package's root
(:mod:`trainfree.api`); its names are imported on first use, so ``import trainfree`` stays fast.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from trainfree.errors import NonFiniteScoreError, TrainfreeError

try:
    __version__ = version("trainfree")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

if TYPE_CHECKING:
    from trainfree.api import correlate, list_proxies, list_spaces, score, search_arch, space
    from trainfree.spaces import InvalidArchError

#: Public name -> the module that defines it (imported on first access).
_LAZY = {
    "correlate": "trainfree.api",
    "list_proxies": "trainfree.api",
    "list_spaces": "trainfree.api",
    "score": "trainfree.api",
    "search_arch": "trainfree.api",
    "space": "trainfree.api",
    "InvalidArchError": "trainfree.spaces",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'trainfree' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "InvalidArchError",
    "NonFiniteScoreError",
    "TrainfreeError",
    "__version__",
    "correlate",
    "list_proxies",
    "list_spaces",
    "score",
    "search_arch",
    "space",
]
