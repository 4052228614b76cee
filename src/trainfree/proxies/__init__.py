"""Zero-cost proxies, registered by name: ``get_proxy("synflow")``.

Every module of this package registers its proxies when imported (all are imported here), and
third-party packages add theirs through the ``trainfree.proxies`` entry-point group.
"""

from __future__ import annotations

from trainfree.proxies.base import PROXIES, ProxySpec, compute_proxy, get_proxy, register_proxy
from trainfree.registry import import_submodules, load_plugins

import_submodules(__name__)
load_plugins("trainfree.proxies")

__all__ = ["PROXIES", "ProxySpec", "compute_proxy", "get_proxy", "register_proxy"]
