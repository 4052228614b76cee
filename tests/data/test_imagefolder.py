"""``--dataset imagefolder``: batches from a folder of class subfolders of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainfree.data import DataMode, make_batch
from trainfree.errors import TrainfreeError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two classes of 5 small images each: class ``a`` dark, class ``b`` bright."""
    rng = np.random.default_rng(0)
    for label, (name, base) in enumerate((("a", 20), ("b", 220))):
        (tmp_path / name).mkdir()
        for i in range(5):
            pixels = (base + rng.integers(0, 30, (12, 9, 3))).clip(0, 255).astype(np.uint8)
            suffix = ".png" if (i + label) % 2 else ".jpg"
            Image.fromarray(pixels).save(tmp_path / name / f"{i}{suffix}")
    (tmp_path / "b" / "notes.txt").write_text("not an image")
    return tmp_path


def test_batches_are_seeded_normalised_and_labelled(folder: Path) -> None:
    batch = make_batch("imagefolder", batch_size=6, seed=1, data_dir=folder, image_size=16)
    again = make_batch("imagefolder", batch_size=6, seed=1, data_dir=folder, image_size=16)
    assert batch.inputs.shape == (6, 3, 16, 16) and batch.num_classes == 2
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.targets, again.targets)
    dark = batch.inputs[batch.targets == 0].mean()
    bright = batch.inputs[batch.targets == 1].mean()
    assert dark < 0 < bright  # ImageNet's mean/std normalisation, labels follow the folders
    one_class = make_batch(
        "imagefolder", batch_size=5, seed=0, data_dir=folder, image_size=8, num_classes=1
    )
    assert set(one_class.targets.tolist()) == {0}
    synthetic = make_batch(
        "imagefolder", batch_size=4, seed=0, mode=DataMode.SYNTHETIC, data_dir=folder
    )
    assert synthetic.inputs.shape == (4, 3, 224, 224)


def test_errors_are_one_line(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainfreeError, match="exceeds the 10 images"):
        make_batch("imagefolder", batch_size=11, seed=0, data_dir=folder, image_size=8)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrainfreeError, match="no images under"):
        make_batch("imagefolder", batch_size=1, seed=0, data_dir=empty)
    (folder / "a" / "broken.png").write_bytes(b"not a png")  # the folder is listed anew
    with pytest.raises(TrainfreeError, match=r"cannot decode image .*broken\.png"):
        make_batch("imagefolder", batch_size=6, seed=0, data_dir=folder, num_classes=1)
