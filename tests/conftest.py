"""Shared fixtures: the reference data folder and tiny settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return Path(os.environ.get("TRAINFREE_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared reference data; skip when absent, except under CI=true where absence fails."""
    path = _data_dir()
    if not (path / "nb201" / "nb201_accuracy.csv").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference data missing at {path} (set TRAINFREE_DATA)")
        pytest.skip(f"reference data not found at {path}; set TRAINFREE_DATA to run this test")
    return path


@pytest.fixture(autouse=True)
def _small_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture
def one_thread():
    """Tiny networks run fastest, and robustly under CPU contention, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
