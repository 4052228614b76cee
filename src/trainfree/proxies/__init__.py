"""Zero-cost proxies, registered by name: ``get_proxy("synflow")``."""

from __future__ import annotations

import importlib

from trainfree.proxies.base import PROXIES, ProxySpec, compute_proxy, get_proxy, register_proxy

_MODULES = (
    "params", "flops", "synflow", "naswot", "snip", "grad_norm", "jacov", "l2_norm", "plain",
    "grasp", "fisher", "epe_nas", "zen", "zico", "meco", "swap",
    "intrain", "near", "gradalign", "tenas",
)  # fmt: skip

for _module in _MODULES:
    try:
        importlib.import_module(f"trainfree.proxies.{_module}")
    except ModuleNotFoundError as _exc:  # a proxy still under construction
        if _exc.name != f"trainfree.proxies.{_module}":
            raise

__all__ = ["PROXIES", "ProxySpec", "compute_proxy", "get_proxy", "register_proxy"]
