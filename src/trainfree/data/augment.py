"""The standard CIFAR training augmentation, on normalised batches.

NAS-Bench-201's and TE-NAS's training loaders apply ``RandomHorizontalFlip`` and
``RandomCrop(32, padding=4)`` to every image before ``ToTensor`` and ``Normalize``; TE-NAS computes
its NTK on batches of that loader. :func:`crop_and_flip` does the same to a batch that is already
normalised: the zero padding of the raw image becomes ``-mean / std`` per channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from trainfree.errors import TrainfreeError

from .batch import Batch


def crop_and_flip(
    batch: Batch,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    padding: int = 4,
    seed: int = 0,
) -> Batch:
    """``batch`` with each image padded by ``padding`` black pixels, cropped back to its size at a
    random offset and mirrored left-right with probability 1/2 (torchvision's ``RandomCrop`` and
    ``RandomHorizontalFlip``); ``mean`` / ``std`` are the normalisation the batch went through."""
    images = batch.inputs
    if images.dim() != 4 or padding < 0:
        raise TrainfreeError("crop_and_flip needs (N, C, H, W) images and padding >= 0")
    generator = torch.Generator().manual_seed(seed)
    n, c, h, w = images.shape
    fill = -torch.tensor(mean, dtype=images.dtype) / torch.tensor(std, dtype=images.dtype)
    fill = fill.to(images.device).view(1, c, 1, 1)
    padded = F.pad(images - fill, (padding,) * 4) + fill  # black in the raw image
    top = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (top[:, None] + torch.arange(h))[:, None, :, None].to(images.device)
    cols = torch.arange(w).expand(n, w)
    cols = torch.where(flip[:, None], cols.flip(-1), cols) + left[:, None]
    cols = cols[:, None, None, :].to(images.device)
    sample = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return Batch(padded[sample, channel, rows, cols].contiguous(), batch.targets, batch.num_classes)
