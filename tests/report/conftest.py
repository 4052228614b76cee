"""Fixtures of the report's tests: the store of :mod:`report.stored` and its benchmark."""

from __future__ import annotations

import pytest
from report.stored import ACCURACY, ARCHS, fill

from trainfree.evaluate import BenchmarkTable


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.db"
    fill(path)
    return path


@pytest.fixture
def benchmark() -> BenchmarkTable:
    return BenchmarkTable(ARCHS, {"acc": ACCURACY})
