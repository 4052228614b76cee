"""Small dataset files in the official pickle layouts, written for the data tests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def _write(path: Path, data: np.ndarray, labels: list[int], label_key: str = "labels") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"data": data, label_key: labels}, protocol=2))


def _cifar10(root: Path, per_file: int = 4) -> Path:
    """A CIFAR-10 folder whose image i (in train order) is the constant value i, label i % 10."""
    folder = root / "cifar-10-batches-py"
    for k, name in enumerate([*CIFAR10_TRAIN, "test_batch"]):
        ids = np.arange(k * per_file, (k + 1) * per_file)
        pixels = np.repeat(ids.astype(np.uint8)[:, None], 3072, axis=1)
        _write(folder / name, pixels, [int(i) % 10 for i in ids])
    return folder
