"""trainfree: training-free neural architecture search.

Score untrained networks with zero-cost proxies, check the scores against real benchmark
accuracies, and search architecture spaces with them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trainfree")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
