"""Dataset descriptions and loaders for the official pickle layouts.

* CIFAR-10 / CIFAR-100 "python version" (Krizhevsky, 2009): dicts with ``data`` (N x 3072 uint8,
  planes R, G, B, each 32x32 row-major) and ``labels`` / ``fine_labels``.
* ImageNet16-120 (Chrabaszcz et al., 2017, as used by NAS-Bench-201, Dong & Yang, 2020): files
  ``train_data_batch_1..10`` and ``val_data`` with ``data`` (N x 768, 16x16 planes) and 1-based
  ``labels`` in 1..1000; NB201 keeps the images with label <= 120 and shifts labels to 0-based.

Normalisation statistics: CIFAR as in NASLib (the implementation behind the NAS-Bench-Suite-Zero
scores this project compares against); NB201/TE-NAS use ``[125.3, 123.0, 113.9] / 255`` etc., which
differ by < 2e-3. ImageNet16 as in NB201/TE-NAS.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from trainfree.errors import TrainfreeError
from trainfree.registry import Registry

from .unpickle import safe_load

Triple = tuple[float, float, float]
SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is and where its files live (``folder`` is None for generated data).

    Stored labels lie in ``[label_offset, label_offset + source_classes)``; only those below
    ``label_offset + num_classes`` are kept and shifted to start at 0 (ImageNet16-120).
    """

    name: str
    title: str
    num_classes: int
    image_size: int
    channels: int
    mean: Triple
    std: Triple
    folder: str | None = None
    files: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # train files, test files
    label_key: str = "labels"
    label_offset: int = 0
    source_classes: int | None = None
    url: str | None = None
    md5: str | None = None

    def split_files(self, split: str) -> tuple[str, ...]:
        if split not in SPLITS:
            raise TrainfreeError(f"unknown split {split!r} for {self.title} (known: train, test)")
        return self.files[SPLITS.index(split)]

    @property
    def all_files(self) -> tuple[str, ...]:
        return self.files[0] + self.files[1]


@dataclass(frozen=True)
class ImageSet:
    """A loaded split: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,) from 0."""

    images: torch.Tensor
    labels: torch.Tensor
    info: DatasetInfo

    def __len__(self) -> int:
        return int(self.labels.shape[0])


DATASETS: Registry[DatasetInfo] = Registry("dataset")

DATASETS.add(
    "cifar10",
    DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        num_classes=10,
        image_size=32,
        channels=3,
        mean=(0.49139968, 0.48215827, 0.44653124),
        std=(0.24703233, 0.24348505, 0.26158768),
        folder="cifar-10-batches-py",
        files=(tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",)),
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
    ),
)
DATASETS.add(
    "cifar100",
    DatasetInfo(
        name="cifar100",
        title="CIFAR-100",
        num_classes=100,
        image_size=32,
        channels=3,
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
        folder="cifar-100-python",
        files=(("train",), ("test",)),
        label_key="fine_labels",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
    ),
)
DATASETS.add(
    "imagenet16-120",
    DatasetInfo(
        name="imagenet16-120",
        title="ImageNet16-120",
        num_classes=120,
        image_size=16,
        channels=3,
        mean=(122.68 / 255, 116.66 / 255, 104.01 / 255),
        std=(63.22 / 255, 61.26 / 255, 65.09 / 255),
        folder="ImageNet16",
        files=(tuple(f"train_data_batch_{i}" for i in range(1, 11)), ("val_data",)),
        label_offset=1,
        source_classes=1000,
    ),
)
DATASETS.add(
    "imagefolder",
    DatasetInfo(
        name="imagefolder",
        title="image folder",
        num_classes=1000,  # read from the folder's class subfolders
        image_size=224,
        channels=3,
        mean=(0.485, 0.456, 0.406),  # ImageNet's
        std=(0.229, 0.224, 0.225),
    ),
)
DATASETS.add(
    "synthetic",
    DatasetInfo(
        name="synthetic",
        title="synthetic",
        num_classes=10,
        image_size=32,
        channels=3,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
    ),
)


def get_dataset_info(name: str) -> DatasetInfo:
    """The registered :class:`DatasetInfo` for ``name`` (TrainfreeError if unknown)."""
    return DATASETS.get(name)


def _candidates(folder: str, root: Path) -> list[Path]:
    """``root`` itself, ``root/<folder>``, ``root/cifar/<folder>``, NB201's ``cifar.python``."""
    nested = [root / parent / folder for parent in ("", "cifar", "cifar.python")]
    return [root, *nested] if root.name == folder else nested


def find_dataset_dir(info: DatasetInfo, root: str | Path) -> Path | None:
    """The folder under ``root`` holding all of ``info``'s files, or None."""
    if info.folder is None:
        return None
    for folder in _candidates(info.folder, Path(root)):
        if all((folder / name).is_file() for name in info.all_files):
            return folder
    return None


def _not_found_error(info: DatasetInfo, root: str | Path) -> TrainfreeError:
    hint = f", or run: trainfree data --download {info.name}" if info.url else ""
    missing = next(
        (name for name in info.all_files if not (Path(root) / info.folder / name).is_file()),
        info.all_files[0],
    )
    return TrainfreeError(
        f"{info.title} not found: no file {Path(root) / info.folder / missing} "
        f"(set --data-dir or TRAINFREE_DATA{hint})"
    )


def _read_file(info: DatasetInfo, path: Path) -> tuple[np.ndarray, np.ndarray]:
    entry = safe_load(path)
    pixels = info.channels * info.image_size**2
    if not isinstance(entry, dict) or "data" not in entry or info.label_key not in entry:
        need = f"'data' and {info.label_key!r}"
        raise TrainfreeError(f"{path} is not a {info.title} batch (needs {need})")
    data = np.asarray(entry["data"])
    labels = np.asarray(entry[info.label_key], dtype=np.int64).reshape(-1)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape != (len(labels), pixels):
        raise TrainfreeError(
            f"{path}: expected uint8 data of shape ({len(labels)}, {pixels}), "
            f"got {data.dtype} {data.shape}"
        )
    return data, labels


def _read_split(info: DatasetInfo, folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    parts = [_read_file(info, folder / name) for name in info.split_files(split)]
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([y for _, y in parts]) - info.label_offset
    stored = info.source_classes or info.num_classes
    if labels.size and (labels.min() < 0 or labels.max() >= stored):
        low, high = info.label_offset, info.label_offset + stored - 1
        raise TrainfreeError(f"{info.title} labels in {folder} fall outside {low}..{high}")
    keep = labels < info.num_classes
    size = info.image_size
    return data[keep].reshape(-1, info.channels, size, size), labels[keep]


@lru_cache(maxsize=8)
def _load_cached(name: str, folder: Path, split: str, stamp: tuple[int, ...]) -> ImageSet:
    """``stamp`` (the files' sizes and mtimes) makes a rewritten file miss the cache."""
    info = get_dataset_info(name)
    data, labels = _read_split(info, folder, split)
    return ImageSet(torch.from_numpy(data), torch.from_numpy(labels), info)


def load_dataset(name: str, root: str | Path, split: str = "train") -> ImageSet:
    """Load one split of a file-backed dataset found under ``root``.

    Cached per process by (name, folder, split), invalidated when a file's size or mtime changes.
    """
    info = get_dataset_info(name)
    if info.folder is None:
        raise TrainfreeError(f"{info.title} is generated, not loaded from files")
    info.split_files(split)  # validate the split before touching the disk
    folder = find_dataset_dir(info, root)
    if folder is None:
        raise _not_found_error(info, root)
    stats = [(folder / name).stat() for name in info.split_files(split)]
    stamp = tuple(v for st in stats for v in (st.st_size, st.st_mtime_ns))
    return _load_cached(info.name, folder.resolve(), split, stamp)
