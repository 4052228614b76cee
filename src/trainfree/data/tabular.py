"""Tabular datasets for the MLP space: scikit-learn's bundled sets and user CSV files.

:func:`trainfree.data.make_batch` serves them by name (or CSV path) like the image datasets.

``digits``, ``breast_cancer`` and ``wine`` ship with scikit-learn (no download). A CSV file has a
header row, numeric feature columns and a label column (the last one unless ``target`` names
another); labels of any type are mapped to classes 0..K-1 in sorted order. Every dataset is split
with a seeded stratified :func:`sklearn.model_selection.train_test_split` and its features are
standardised with the *training* split's mean and standard deviation (constant features keep
scale 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from trainfree.data.batch import Batch
from trainfree.errors import TrainfreeError

# scikit-learn's bundled sets, each loaded by ``sklearn.datasets.load_<name>``. scikit-learn and
# pandas are imported on first use: ``trainfree.data`` is imported by every command.
SKLEARN_DATASETS: tuple[str, ...] = ("digits", "breast_cancer", "wine")


@dataclass(frozen=True)
class TabularData:
    """A standardised train/test split: float32 features (N, F), int64 labels in [0, K)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    feature_names: tuple[str, ...]

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])


def _read_csv(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, raw labels and feature names of a CSV file; TrainfreeError on bad content."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainfreeError(f"cannot read CSV {path}: {first}") from None
    if frame.shape[1] < 2 or len(frame) == 0:
        raise TrainfreeError(f"CSV {path} needs a header, rows, and at least two columns")
    label = frame.columns[-1] if target is None else target
    if label not in frame.columns:
        raise TrainfreeError(f"CSV {path} has no column {label!r}")
    features = frame.drop(columns=[label])
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise TrainfreeError(f"CSV {path}: feature column {text[0]!r} is not numeric")
    if frame.isna().to_numpy().any():
        raise TrainfreeError(f"CSV {path} has missing values")
    labels = frame[label].to_numpy()
    if pd.api.types.is_float_dtype(labels) and not np.all(labels == np.round(labels)):
        raise TrainfreeError(f"CSV {path}: label column {label!r} is continuous, not classes")
    return features.to_numpy(dtype=np.float64), labels, [str(c) for c in features.columns]


def _load_raw(name_or_path: str, target: str | None) -> tuple[str, np.ndarray, np.ndarray, list]:
    if name_or_path in SKLEARN_DATASETS:
        if target is not None:
            raise TrainfreeError("--target applies to CSV files only")
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name_or_path}")()
        return name_or_path, bunch.data, bunch.target, [str(f) for f in bunch.feature_names]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(SKLEARN_DATASETS)
        raise TrainfreeError(f"unknown tabular dataset {name_or_path!r} (known: {known}, FILE.csv)")
    return (path.name, *_read_csv(path, target))


def load_tabular(
    name_or_path: str, *, seed: int = 0, test_fraction: float = 0.25, target: str | None = None
) -> TabularData:
    """Load a bundled dataset or CSV file, split it (stratified, seeded) and standardise it."""
    if not 0.0 < test_fraction < 1.0:
        raise TrainfreeError(f"test fraction must lie in (0, 1), got {test_fraction}")
    from sklearn.model_selection import train_test_split

    name, x, raw_labels, names = _load_raw(name_or_path, target)
    classes, y = np.unique(raw_labels, return_inverse=True)
    if len(classes) < 2:
        raise TrainfreeError(f"dataset {name} needs at least two classes, found {len(classes)}")
    try:
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=test_fraction, random_state=seed, stratify=y
        )
    except ValueError as exc:
        raise TrainfreeError(f"cannot split {name} into train and test: {exc}") from None
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    return TabularData(
        name,
        tensor((x_tr - mean) / std, torch.float32),
        tensor(y_tr, torch.int64),
        tensor((x_te - mean) / std, torch.float32),
        tensor(y_te, torch.int64),
        len(classes),
        tuple(names),
    )


def tabular_batch(data: TabularData, batch_size: int | None, seed: int) -> Batch:
    """``batch_size`` distinct training rows drawn with a generator seeded by ``seed``.

    ``None`` takes every training row, in seeded random order (NEAR needs at least as many rows
    as the widest layer it scores).
    """
    n = len(data.y_train)
    size = n if batch_size is None else batch_size
    if not 1 <= size <= n:
        raise TrainfreeError(f"batch size must lie in 1..{n} for {data.name}, got {size}")
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]
    return Batch(data.x_train[pick], data.y_train[pick], data.num_classes)


def is_tabular(dataset: str) -> bool:
    """Whether :func:`trainfree.data.make_batch` reads ``dataset`` as a table: one of
    :data:`SKLEARN_DATASETS` or a ``.csv`` file."""
    return dataset in SKLEARN_DATASETS or dataset.lower().endswith(".csv")


def default_tabular(name_or_path: str) -> TabularData:
    """:func:`load_tabular` with its defaults (split seed 0, last CSV column the label), cached
    per process; a rewritten CSV file misses the cache."""
    path, stamp = Path(name_or_path), None
    if name_or_path not in SKLEARN_DATASETS and path.is_file():
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
    return _load_cached(name_or_path, stamp)


@lru_cache(maxsize=8)
def _load_cached(name_or_path: str, stamp: tuple[int, int] | None) -> TabularData:
    return load_tabular(name_or_path)
