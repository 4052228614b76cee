"""Fixtures of the search tests: one intra-op thread, the NB201 and DARTS spaces."""

from __future__ import annotations

import pytest
import torch

from trainfree.spaces import get_space


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks run fastest, and robustly under CPU contention, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201")


@pytest.fixture(scope="module")
def darts():
    return get_space("darts")
