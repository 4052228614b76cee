"""The batch every proxy receives, and the data modes proxies declare."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch


class DataMode(str, Enum):
    """What a proxy needs from the data: labelled inputs, inputs alone, synthetic inputs, one
    all-ones input, or only the input shape (:func:`trainfree.data.make_batch`)."""

    LABELLED = "labelled"  # real images with their labels
    INPUTS = "inputs"  # real images, labels ignored
    SYNTHETIC = "synthetic"  # Gaussian N(0,1) images with uniformly random labels
    ONES = "ones"  # a single all-ones image, no labels (SynFlow, ZEROS)
    FREE = "free"  # needs only the input shape (params, flops)


@dataclass(frozen=True)
class Batch:
    """A mini-batch: ``inputs`` (B, C, H, W) or (B, F), ``targets`` (B,), ``num_classes``."""

    inputs: torch.Tensor
    targets: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError("inputs and targets must have the same batch size")

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Batch:
        inputs = self.inputs.to(device=device, dtype=dtype or self.inputs.dtype)
        return Batch(inputs, self.targets.to(device), self.num_classes)

    def channels_last(self) -> Batch:
        """The same batch with 4-D inputs in channels-last memory order (values unchanged)."""
        if self.inputs.dim() != 4:
            return self
        inputs = self.inputs.contiguous(memory_format=torch.channels_last)
        return Batch(inputs, self.targets, self.num_classes)

    def split(self, n: int) -> list[Batch]:
        """Split into ``n`` nearly equal consecutive sub-batches (ZiCo, Fisher-style proxies)."""
        chunks = zip(self.inputs.tensor_split(n), self.targets.tensor_split(n), strict=True)
        return [Batch(x, y, self.num_classes) for x, y in chunks if len(y)]
