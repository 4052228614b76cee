"""The CIFAR training augmentation used for TE-NAS's NTK batches."""

from __future__ import annotations

import pytest
import torch

from trainfree.data import Batch
from trainfree.data.augment import crop_and_flip
from trainfree.errors import TrainfreeError

MEAN, STD = (0.5, 0.25, 0.0), (0.5, 0.25, 1.0)


def _batch(n: int = 64) -> Batch:
    raw = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    normalised = (raw - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return Batch(normalised, torch.zeros(n, dtype=torch.long), 10)


def _windows(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every crop of the black-padded raw image, mirrored or not, normalised."""
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    raw = torch.nn.functional.pad(image * std + mean, (padding,) * 4)
    h, w = image.shape[-2:]
    offsets = range(2 * padding + 1)
    crops = [raw[:, t : t + h, s : s + w] for t in offsets for s in offsets]
    return [(c - mean) / std for crop in crops for c in (crop, crop.flip(-1))]


def test_each_image_is_a_padded_crop_possibly_mirrored():
    batch = _batch()
    out = crop_and_flip(batch, mean=MEAN, std=STD, padding=2, seed=1)
    assert out.inputs.shape == batch.inputs.shape and torch.equal(out.targets, batch.targets)
    for image, new in zip(batch.inputs, out.inputs, strict=True):
        assert any(torch.allclose(new, w, atol=1e-6) for w in _windows(image, 2))
    moved = [not torch.allclose(a, b) for a, b in zip(batch.inputs, out.inputs, strict=True)]
    assert sum(moved) > len(moved) / 2  # 50 of 51 (offset, flip) pairs change the image


def test_seeded_and_identity_without_padding_or_flip():
    batch = _batch()
    a = crop_and_flip(batch, mean=MEAN, std=STD, seed=5)
    assert torch.equal(a.inputs, crop_and_flip(batch, mean=MEAN, std=STD, seed=5).inputs)
    assert not torch.equal(a.inputs, crop_and_flip(batch, mean=MEAN, std=STD, seed=6).inputs)
    same = crop_and_flip(batch, mean=MEAN, std=STD, padding=0, seed=5).inputs
    mirrored = [torch.equal(x, y.flip(-1)) for x, y in zip(same, batch.inputs, strict=True)]
    kept = [torch.equal(x, y) for x, y in zip(same, batch.inputs, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True)) and 0 < sum(kept) < len(kept)


def test_bad_input_is_refused():
    flat = Batch(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long), 10)
    with pytest.raises(TrainfreeError, match="crop_and_flip"):
        crop_and_flip(flat, mean=MEAN, std=STD)
