"""Batches for proxies: real images from the official dataset files, rows of tabular datasets
(:mod:`trainfree.data.tabular`), synthetic or all-ones inputs.

:func:`make_batch` is the single entry point; everything it draws comes from a generator seeded
with ``seed``, so the same arguments always give the same batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from trainfree.errors import TrainfreeError

from .batch import Batch, DataMode
from .datasets import (
    DATASETS,
    DatasetInfo,
    ImageSet,
    find_dataset_dir,
    get_dataset_info,
    load_dataset,
)
from .download import download_dataset
from .imagefolder import folder_images
from .tabular import TabularData, default_tabular, is_tabular, load_tabular, tabular_batch
from .unpickle import UnsafePickleError, safe_load

__all__ = [
    "DATASETS",
    "Batch",
    "DataMode",
    "DatasetInfo",
    "ImageSet",
    "TabularData",
    "UnsafePickleError",
    "default_data_dir",
    "download_dataset",
    "get_dataset_info",
    "load_dataset",
    "load_tabular",
    "make_batch",
    "safe_load",
    "tabular_batch",
]


def default_data_dir() -> Path | None:
    """``$TRAINFREE_DATA`` as a path, or None when unset (callers then report a clear error)."""
    value = os.environ.get("TRAINFREE_DATA")
    return Path(value) if value else None


def _positive(**values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise TrainfreeError(f"{key.replace('_', '-')} must be at least 1, got {value}")


def _data_mode(mode: DataMode | str) -> DataMode:
    try:
        return DataMode(mode)
    except ValueError:
        known = ", ".join(m.value for m in DataMode)
        raise TrainfreeError(f"unknown data mode {mode!r} (known: {known})") from None


def _synthetic(batch_size: int, shape: tuple[int, ...], num_classes: int, seed: int) -> Batch:
    """Gaussian N(0, 1) inputs of ``shape`` with labels uniform in [0, K)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, *shape, generator=gen)
    targets = torch.randint(0, num_classes, (batch_size,), generator=gen)
    return Batch(inputs, targets, num_classes)


def _ones(shape: tuple[int, ...], num_classes: int) -> Batch:
    """One all-ones input of ``shape`` with target 0."""
    return Batch(torch.ones(1, *shape), torch.zeros(1, dtype=torch.long), num_classes)


def _tabular(
    dataset: str | TabularData,
    mode: DataMode,
    batch_size: int,
    seed: int,
    num_classes: int | None,
    split: str,
) -> Batch:
    data = dataset if isinstance(dataset, TabularData) else default_tabular(dataset)
    if num_classes not in (None, data.num_classes):
        raise TrainfreeError(
            f"{data.name} has {data.num_classes} classes; num-classes applies to image datasets"
        )
    if split != "train":
        raise TrainfreeError(f"batches of tabular data come from the training split, not {split!r}")
    _positive(batch_size=batch_size)
    if mode in (DataMode.ONES, DataMode.FREE):
        return _ones((data.num_features,), data.num_classes)
    if mode is DataMode.SYNTHETIC:
        return _synthetic(batch_size, (data.num_features,), data.num_classes, seed)
    return tabular_batch(data, batch_size, seed)


def _load(info: DatasetInfo, data_dir: str | Path | None, split: str, download: bool) -> ImageSet:
    root = data_dir if data_dir is not None else default_data_dir()
    if root is None:
        raise TrainfreeError(
            f"{info.title} needs a data folder holding {info.folder}/{info.all_files[0]} ...: "
            "set --data-dir or TRAINFREE_DATA (trainfree data shows what is where)"
        )
    if download and find_dataset_dir(info, root) is None:
        download_dataset(info.name, root)
    return load_dataset(info.name, root, split)


def _real(data: ImageSet, batch_size: int, size: int, num_classes: int, seed: int) -> Batch:
    """Draw ``batch_size`` distinct images with label < K, scale to [0, 1], normalise, resize."""
    info = data.info
    pool = torch.nonzero(data.labels < num_classes).flatten()
    if len(pool) < batch_size:
        raise TrainfreeError(
            f"batch size {batch_size} exceeds the {len(pool)} {info.title} images "
            f"with label < {num_classes}"
        )
    gen = torch.Generator().manual_seed(seed)
    pick = pool[torch.randperm(len(pool), generator=gen)[:batch_size]]
    images = data.images[pick].float().div_(255)
    if size != info.image_size:
        images = F.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False, antialias=False
        )
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return Batch((images - mean) / std, data.labels[pick], num_classes)


def _from_folder(
    info: DatasetInfo,
    data_dir: str | Path | None,
    batch_size: int,
    size: int,
    num_classes: int | None,
    seed: int,
) -> Batch:
    """A normalised batch of the image folder ``data_dir`` (:mod:`trainfree.data.imagefolder`)."""
    root = data_dir if data_dir is not None else default_data_dir()
    if root is None:
        raise TrainfreeError("--dataset imagefolder needs --data-dir DIR (DIR/<class>/<image>)")
    images, labels, classes = folder_images(
        root, batch_size=batch_size, size=size, num_classes=num_classes, seed=seed
    )
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return Batch((images.float().div_(255) - mean) / std, labels, classes)


def make_batch(
    dataset: str | TabularData,
    *,
    batch_size: int,
    seed: int,
    mode: DataMode | str = DataMode.LABELLED,
    data_dir: str | Path | None = None,
    image_size: int | None = None,
    num_classes: int | None = None,
    split: str = "train",
    download: bool = False,
) -> Batch:
    """The batch a proxy with data ``mode`` receives.

    * LABELLED / INPUTS: ``batch_size`` distinct real images drawn without replacement, scaled to
      [0, 1] and normalised with the dataset's mean/std; bilinearly resized when ``image_size``
      differs. With ``num_classes`` K below the dataset's, only images with label < K are drawn.
    * SYNTHETIC (or dataset ``synthetic``): N(0, 1) images, labels uniform in [0, K).
    * ONES / FREE: one all-ones image with target 0 (SynFlow-style; FREE only needs the shape).
    * Dataset ``imagefolder``: real images of the folder ``data_dir`` (class subfolders,
      :mod:`~trainfree.data.imagefolder`), 224 x 224 by default, ImageNet's mean/std.

    ``image_size`` and ``num_classes`` default to the dataset's; ``data_dir`` to
    ``$TRAINFREE_DATA``; ``download`` fetches a missing CIFAR archive first.

    A tabular ``dataset`` (a :class:`TabularData`, a name in
    :data:`~trainfree.data.tabular.SKLEARN_DATASETS` or a ``.csv`` path, split and standardised
    by :func:`~trainfree.data.tabular.load_tabular` with its defaults) gives ``batch_size``
    distinct training rows (:func:`~trainfree.data.tabular.tabular_batch`), Gaussian rows or one
    all-ones row, in the same modes; ``image_size``, ``data_dir`` and ``download`` do not apply.
    """
    mode = _data_mode(mode)
    if isinstance(dataset, TabularData) or is_tabular(dataset):
        return _tabular(dataset, mode, batch_size, seed, num_classes, split)
    info = get_dataset_info(dataset)
    size = info.image_size if image_size is None else image_size
    classes = info.num_classes if num_classes is None else num_classes
    _positive(batch_size=batch_size, image_size=size, num_classes=classes)
    if mode in (DataMode.ONES, DataMode.FREE):
        return _ones((info.channels, size, size), classes)
    if info.name == "imagefolder" and mode in (DataMode.LABELLED, DataMode.INPUTS):
        return _from_folder(info, data_dir, batch_size, size, num_classes, seed)
    if mode is DataMode.SYNTHETIC or info.folder is None:
        return _synthetic(batch_size, (info.channels, size, size), classes, seed)
    return _real(_load(info, data_dir, split, download), batch_size, size, classes, seed)
