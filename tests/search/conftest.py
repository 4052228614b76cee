"""Fixtures of the search tests: one intra-op thread, the NB201 and DARTS spaces."""

from __future__ import annotations

import pytest

from trainfree.spaces import get_space


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every search test runs on one intra-op thread (:func:`conftest.one_thread`)."""


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201")


@pytest.fixture(scope="module")
def darts():
    return get_space("darts")
