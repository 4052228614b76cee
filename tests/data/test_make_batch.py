"""``make_batch`` (``data/__init__.py``): real, synthetic, all-ones and shape-only batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from data_files import CIFAR10_TRAIN, _cifar10, _write

from trainfree.data import (
    DataMode,
    get_dataset_info,
    make_batch,
)
from trainfree.errors import TrainfreeError


def test_real_batch_is_normalised(data_dir: Path) -> None:
    batch = make_batch("cifar10", batch_size=256, seed=0, data_dir=data_dir)
    assert batch.inputs.shape == (256, 3, 32, 32) and batch.inputs.dtype == torch.float32
    assert batch.num_classes == 10 and set(batch.targets.tolist()) <= set(range(10))
    mean, std = batch.inputs.mean(dim=(0, 2, 3)), batch.inputs.std(dim=(0, 2, 3))
    assert torch.all(mean.abs() < 0.15) and torch.all((std - 1).abs() < 0.15)


def test_draw_is_seeded_and_without_replacement(tmp_path: Path) -> None:
    _cifar10(tmp_path, per_file=4)  # 20 train images, image i has constant value i
    info = get_dataset_info("cifar10")

    def values(seed: int, size: int) -> list[int]:
        batch = make_batch("cifar10", batch_size=size, seed=seed, data_dir=tmp_path)
        raw = batch.inputs[:, 0, 0, 0] * info.std[0] + info.mean[0]
        assert torch.equal(batch.targets, torch.round(raw * 255).long() % 10)
        return [round(float(v) * 255) for v in raw]

    assert sorted(values(3, 20)) == list(range(20))  # a full draw is a permutation
    assert values(3, 8) == values(3, 8)
    assert values(3, 8) != values(4, 8)
    with pytest.raises(TrainfreeError, match="batch size 21 exceeds the 20"):
        make_batch("cifar10", batch_size=21, seed=0, data_dir=tmp_path)


def test_resize_matches_bilinear_interpolation(data_dir: Path) -> None:
    full = make_batch("cifar10", batch_size=4, seed=5, data_dir=data_dir)
    small = make_batch("cifar10", batch_size=4, seed=5, data_dir=data_dir, image_size=16)
    assert small.inputs.shape == (4, 3, 16, 16) and torch.equal(small.targets, full.targets)
    expected = F.interpolate(full.inputs, size=(16, 16), mode="bilinear", align_corners=False)
    torch.testing.assert_close(small.inputs, expected, atol=1e-5, rtol=1e-5)


def test_num_classes_filters_labels(data_dir: Path, tmp_path: Path) -> None:
    batch = make_batch("cifar10", batch_size=64, seed=0, data_dir=data_dir, num_classes=3)
    assert batch.num_classes == 3 and int(batch.targets.max()) < 3
    assert len(set(batch.targets.tolist())) == 3
    folder = tmp_path / "cifar-10-batches-py"
    for name in [*CIFAR10_TRAIN, "test_batch"]:
        _write(folder / name, np.zeros((2, 3072), np.uint8), [5, 7])
    with pytest.raises(TrainfreeError, match="exceeds the 0 CIFAR-10 images with label < 2"):
        make_batch("cifar10", batch_size=1, seed=0, data_dir=tmp_path, num_classes=2)


def test_synthetic_batches(tmp_path: Path) -> None:
    batch = make_batch("synthetic", batch_size=512, seed=7)
    assert batch.inputs.shape == (512, 3, 32, 32) and batch.num_classes == 10
    assert set(batch.targets.tolist()) == set(range(10))
    assert abs(float(batch.inputs.mean())) < 0.01 and abs(float(batch.inputs.std()) - 1) < 0.01
    again = make_batch("synthetic", batch_size=512, seed=7)
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.targets, again.targets)
    assert not torch.equal(batch.inputs, make_batch("synthetic", batch_size=512, seed=8).inputs)
    # SYNTHETIC mode on a real dataset never touches the disk and keeps its classes / size
    other = make_batch("cifar100", batch_size=4, seed=0, mode="synthetic", data_dir=tmp_path / "x")
    assert other.inputs.shape == (4, 3, 32, 32) and other.num_classes == 100
    sized = make_batch("synthetic", batch_size=3, seed=0, image_size=8, num_classes=4)
    assert sized.inputs.shape == (3, 3, 8, 8) and int(sized.targets.max()) < 4


@pytest.mark.parametrize("mode", [DataMode.ONES, DataMode.FREE])
def test_ones_and_free(mode: DataMode, tmp_path: Path) -> None:
    batch = make_batch("imagenet16-120", batch_size=64, seed=0, mode=mode, data_dir=tmp_path)
    assert torch.equal(batch.inputs, torch.ones(1, 3, 16, 16))
    assert torch.equal(batch.targets, torch.zeros(1, dtype=torch.long)) and batch.num_classes == 120


def test_bad_arguments() -> None:
    with pytest.raises(TrainfreeError, match="unknown dataset"):
        make_batch("mnist", batch_size=1, seed=0)
    with pytest.raises(TrainfreeError, match="unknown data mode"):
        make_batch("synthetic", batch_size=1, seed=0, mode="noisy")
    with pytest.raises(TrainfreeError, match="batch-size must be at least 1"):
        make_batch("synthetic", batch_size=0, seed=0)
