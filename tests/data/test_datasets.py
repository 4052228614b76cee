"""Dataset layouts and loaders (``data/datasets.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_files import CIFAR10_TRAIN, _cifar10, _write

from trainfree.data import (
    default_data_dir,
    get_dataset_info,
    load_dataset,
    make_batch,
)
from trainfree.errors import TrainfreeError

IMAGENET16_TRAIN = [f"train_data_batch_{i}" for i in range(1, 11)]


def test_real_cifar10_and_cifar100(data_dir: Path) -> None:
    train = load_dataset("cifar10", data_dir, "train")
    assert train.images.shape == (5170, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) == set(range(10))
    assert len(load_dataset("cifar10", data_dir, "test")) == 1017
    c100 = load_dataset("cifar100", data_dir, "train")
    assert len(c100) == 486 and set(c100.labels.tolist()) <= set(range(100))
    assert len(load_dataset("cifar100", data_dir, "test")) == 916
    assert load_dataset("cifar10", data_dir, "train") is train  # cached per (name, root, split)


def test_cifar_planes_are_rgb_row_major(tmp_path: Path) -> None:
    pixels = np.concatenate([np.arange(1024) % 256 + c for c in range(3)]).astype(np.uint8)
    folder = tmp_path / "cifar" / "cifar-10-batches-py"  # the shared data's nesting
    for name in [*CIFAR10_TRAIN, "test_batch"]:
        _write(folder / name, pixels[None], [3])
    image = load_dataset("cifar10", tmp_path).images[0]
    expected = torch.arange(1024).remainder(256).view(32, 32)
    for channel in range(3):
        assert torch.equal(image[channel].long(), (expected + channel).remainder(256))
    assert torch.equal(load_dataset("cifar10", folder).images[0], image)  # the folder itself


def test_missing_folder_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 26: the exact file looked for, and the command that downloads it
    with pytest.raises(TrainfreeError, match=r"CIFAR-10 not found: no file .*cifar-10-batches-py/"
                       r"data_batch_1 .*run: trainfree data --download cifar10\)"):  # fmt: skip
        make_batch("cifar10", batch_size=2, seed=0, data_dir=tmp_path)
    with pytest.raises(TrainfreeError, match="ImageNet16-120 not found") as info:
        load_dataset("imagenet16-120", tmp_path)
    assert "--download" not in str(info.value)
    monkeypatch.delenv("TRAINFREE_DATA", raising=False)
    assert default_data_dir() is None
    with pytest.raises(TrainfreeError, match="needs a data folder"):
        make_batch("cifar100", batch_size=2, seed=0)
    monkeypatch.setenv("TRAINFREE_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    with pytest.raises(TrainfreeError, match="unknown split"):
        load_dataset("cifar10", tmp_path, "valid")


def test_imagenet16_layout(tmp_path: Path) -> None:
    folder = tmp_path / "ImageNet16"
    stored = [1, 120, 121, 1000, 60]  # 1-based; NB201 keeps labels <= 120
    for k, name in enumerate(IMAGENET16_TRAIN):
        _write(folder / name, np.full((5, 768), k, np.uint8), stored)
    _write(folder / "val_data", np.zeros((2, 768), np.uint8), [2, 500])
    train = load_dataset("imagenet16-120", tmp_path, "train")
    assert train.images.shape == (30, 3, 16, 16)
    assert train.labels.tolist() == [0, 119, 59] * 10
    assert load_dataset("imagenet16-120", tmp_path, "test").labels.tolist() == [1]
    batch = make_batch("imagenet16-120", batch_size=30, seed=1, data_dir=tmp_path)
    info = get_dataset_info("imagenet16-120")
    assert batch.inputs.shape == (30, 3, 16, 16) and batch.num_classes == 120
    values = batch.inputs[:, 0, 0, 0] * info.std[0] + info.mean[0]
    assert sorted(round(float(v) * 255) for v in values) == sorted(list(range(10)) * 3)
    _write(folder / "val_data", np.zeros((1, 768), np.uint8), [0])  # 0 is not a 1-based label
    with pytest.raises(TrainfreeError, match=r"outside 1\.\.1000"):
        load_dataset("imagenet16-120", tmp_path, "test")


def test_malformed_batch_is_refused(tmp_path: Path) -> None:
    folder = _cifar10(tmp_path)
    _write(folder / "test_batch", np.zeros((2, 100), np.uint8), [0, 1])
    with pytest.raises(TrainfreeError, match=r"expected uint8 data of shape \(2, 3072\)"):
        load_dataset("cifar10", tmp_path, "test")
