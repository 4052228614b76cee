"""Safe unpickling (``data/unpickle.py``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from trainfree.data import (
    UnsafePickleError,
    safe_load,
)
from trainfree.errors import TrainfreeError


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


def test_real_pickles_load_with_both_key_encodings(data_dir: Path) -> None:
    path = data_dir / "cifar" / "cifar-10-batches-py" / "data_batch_1"
    as_str, as_bytes = safe_load(path, encoding="latin1"), safe_load(path, encoding="bytes")
    assert {"data", "labels"} <= set(as_str) and set(as_str) == set(as_bytes)
    np.testing.assert_array_equal(as_str["data"], as_bytes["data"])
    assert as_str["data"].dtype == np.uint8 and as_str["data"].shape[1] == 3072


def test_bytes_keys_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": np.arange(6, dtype=np.uint8), b"labels": [1]}))
    loaded = safe_load(path, encoding="bytes")
    assert set(loaded) == {"data", "labels"}
    np.testing.assert_array_equal(loaded["data"], np.arange(6))


def test_pickle_naming_os_system_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(UnsafePickleError, match=r"refusing to load os\.system from .*data_batch_1"):
        safe_load(path)
    path.write_bytes(pickle.dumps({"data": _Evil(marker)}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"(__builtin__|builtins)\.eval"):
        safe_load(path)
    assert not marker.exists()


def test_codecs_encode_only_latin1(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(UnsafePickleError, match="rot13"):
        safe_load(path)


def test_corrupt_or_missing_file_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": np.zeros((4, 3072), np.uint8)}, protocol=2)[:-40])
    with pytest.raises(TrainfreeError, match="corrupt or truncated") as info:
        safe_load(path)
    assert not isinstance(info.value, UnsafePickleError) and "\n" not in str(info.value)
    with pytest.raises(TrainfreeError, match="cannot read"):
        safe_load(tmp_path / "absent")
