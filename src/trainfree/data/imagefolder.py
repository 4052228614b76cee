"""Batches from a folder of class subfolders of images (``--dataset imagefolder``).

The layout of ImageNet's and torchvision's ``ImageFolder``: ``DIR/<class>/<image>.jpg``; classes
are the subfolders in sorted order, labels their positions. Only the images of a batch are
decoded (with Pillow), converted to RGB and resized to ``size`` x ``size`` (bilinear), so a
large folder costs nothing but its file listing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from trainfree.errors import TrainfreeError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def list_images(root: Path) -> tuple[tuple[Path, ...], tuple[int, ...], tuple[str, ...]]:
    """``(files, labels, classes)`` of the image folder ``root`` (files sorted per class);
    listed once per process while the folders' modification times stay the same."""
    if not root.is_dir():
        raise TrainfreeError(f"image folder {root} does not exist")
    folders = tuple(sorted(p for p in root.iterdir() if p.is_dir()))
    return _listing(root, tuple(p.stat().st_mtime_ns for p in (root, *folders)))


@lru_cache(maxsize=8)
def _listing(
    root: Path, stamps: tuple[int, ...]
) -> tuple[tuple[Path, ...], tuple[int, ...], tuple[str, ...]]:
    del stamps  # part of the cache key only
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    files, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.suffix.lower() in EXTENSIONS and path.is_file():
                files.append(path)
                labels.append(label)
    if not files:
        raise TrainfreeError(
            f"no images under {root}: expected class subfolders of "
            f"{'/'.join(sorted(EXTENSIONS))} files (DIR/<class>/<image>)"
        )
    return tuple(files), tuple(labels), classes


def decode(path: Path, size: int) -> torch.Tensor:
    """One image as uint8 ``(3, size, size)``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError) as exc:
        raise TrainfreeError(f"cannot decode image {path}: {exc}") from None
    return torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1)


def folder_images(
    root: str | Path, *, batch_size: int, size: int, num_classes: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``batch_size`` distinct images drawn (seeded) from ``root``'s first ``num_classes``
    classes (all by default): uint8 ``(B, 3, size, size)``, labels, and the class count."""
    files, labels, classes = list_images(Path(root).resolve())
    count = len(classes) if num_classes is None else num_classes
    pool = torch.nonzero(torch.tensor(labels) < count).flatten()
    if len(pool) < batch_size:
        raise TrainfreeError(
            f"batch size {batch_size} exceeds the {len(pool)} images of {root} in "
            f"its first {count} classes"
        )
    gen = torch.Generator().manual_seed(seed)
    pick = pool[torch.randperm(len(pool), generator=gen)[:batch_size]].tolist()
    images = torch.stack([decode(files[i], size) for i in pick])
    return images, torch.tensor([labels[i] for i in pick]), count
