"""Safe loading of the official CIFAR / ImageNet16 pickles.

``pickle.load`` runs whatever callables a file names, so a tampered dataset file could execute
code. :class:`SafeUnpickler` admits only the globals that numpy arrays need to be rebuilt and
refuses everything else with :class:`UnsafePickleError`.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from trainfree.errors import TrainfreeError


class UnsafePickleError(TrainfreeError):
    """A pickle asked for a global outside the numpy allow-list."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` restricted to latin1: how Python 3 writes bytes at protocol 2."""
    if encoding.lower().replace("-", "") not in {"latin1", "iso88591"}:
        raise UnsafePickleError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # this numpy's multiarray._reconstruct
_SCALAR = np.float64(0).__reduce__()[0]  # this numpy's multiarray.scalar

# Python 2 / numpy 1 files name numpy.core.*; numpy 2 writes numpy._core.*: accept both.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _RECONSTRUCT
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _SCALAR


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds numpy arrays, dtypes and scalars (plus plain containers)."""

    def __init__(self, file: Any, *, source: str, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name} from {self.source}: "
                "only numpy arrays are allowed"
            ) from None


def _str_keys(obj: Any) -> Any:
    """Decode bytes keys of a top-level dict (Python 2 pickles read with ``encoding="bytes"``)."""
    if not isinstance(obj, dict):
        return obj
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def safe_load(path: str | Path, encoding: str = "latin1") -> Any:
    """Unpickle ``path`` with :class:`SafeUnpickler`; top-level dict keys come back as ``str``.

    The official files are Python 2 pickles: with ``encoding="latin1"`` their keys load as ``str``,
    with ``encoding="bytes"`` as ``bytes``; both give the same result here.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            obj = SafeUnpickler(fh, source=str(path), encoding=encoding).load()
    except OSError as exc:
        raise TrainfreeError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise TrainfreeError(f"{path} is corrupt or truncated ({reason})") from None
    return _str_keys(obj)
