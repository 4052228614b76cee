"""EPE-NAS (``proxies/epe_nas.py``)."""

from __future__ import annotations

import math

import pytest
import torch

from trainfree.proxies.epe_nas import epe_score


def test_epe_score_known_correlations() -> None:
    k = 1e-5
    jac = torch.tensor([[1.0, 0, -1, 0], [0, 1, 0, -1], [1, 2, 3, 4], [2, 4, 6, 8.5]])
    labels = torch.tensor([0, 0, 1, 2])
    # class 0: orthogonal centred rows (corr 0); class 1: one row (corr 1)
    expected = abs(2 * math.log(1 + k) + 2 * math.log(k)) + abs(math.log(1 + k)) * 2
    assert epe_score(jac, labels, num_classes=10) == pytest.approx(expected)
    constant = torch.ones(3, 4)  # undefined correlations count as 1
    assert epe_score(constant, torch.zeros(3, dtype=torch.long), 10) == pytest.approx(
        9 * math.log(1 + k)
    )
