"""NB201 architecture-string helpers shared by the search tests."""

from __future__ import annotations

import re


def nb201_ops(arch: str) -> list[str]:
    return re.findall(r"\|([a-z_0-9]+)~\d", arch)


def conv3x3_count(arch: str) -> float:
    return float(nb201_ops(arch).count("nor_conv_3x3"))
