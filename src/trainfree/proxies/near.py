"""NEAR: Network Expressivity by Activation Rank (Husistein, Reiher, Eckhoff, ICLR 2025;
``ReiherGroup/NEAR`` @ 4d5d7f1, ``near_score.py``).

``erank(A) = exp(H(p))`` with ``p_k = σ_k / Σ σ_j`` the normalised singular values (Roy &
Vetterli 2007), and ``score = Σ_l erank(Z_l) + erank(H_l)``. Higher is better.

* Hooked modules (as the official code): every module with a ``weight`` attribute (Linear,
  Conv, BatchNorm, LayerNorm: "pre-activations") and every instance of a class of
  ``torch.nn.modules.activation`` ("post-activations"); a tuple output contributes its first
  element. Deviation: a module called several times contributes one matrix per call (the
  official code concatenates the calls of one module, which fails when their widths differ).
* Matrices: 2-D outputs ``(N, F)`` as they are; an output ``(N, C, H, W)`` is transposed to
  ``(N, W, H, C)`` and flattened to ``(N·W·H, C)`` (outputs of other ranks likewise swap dims 1
  and -1). Of ``rows ≥ columns`` rows, a square block of ``columns`` rows is kept, starting at a
  random multiple of the output's last dimension (before the transpose) drawn from a generator
  seeded with ``seed`` (``None``: drawn from the global torch RNG, which the harness seeds).
  The official code can cut that block short at the end of its rows; here the start is drawn
  among the multiples that keep the block whole.
* Data: the official package streams the dataloader until every layer has ``rows ≥ columns``
  (its example uses batch size 1); the harness gives one batch, forwarded once, so a layer
  with fewer rows than columns uses all its rows (its erank is then at most ``rows``). The
  default batch of 128 images covers every convolution of a full-size NB201 network (one
  32 × 32 image already gives 1024 rows for 16 channels, 64 rows at 8 × 8 for 64 channels)
  and the classifier of up to 128 classes (ImageNet16-120).
* Mode: the official code calls the model as given (a fresh module is in train mode), so
  BatchNorm uses batch statistics; running statistics are left untouched. No gradients.
* Numerics: singular values and entropy in float64 in torch; an all-zero matrix (a dead layer)
  has erank 0 (the official SciPy entropy gives NaN, turned into 0); non-finite activations
  raise :class:`NonFiniteScoreError`.
* Init: PyTorch's default (the official code calls ``reset_parameters`` between repetitions);
  the paper averages 32 repetitions on the NAS benchmarks: use ``repeats``.
"""

from __future__ import annotations

import torch
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.proxies.base import register_proxy
from trainfree.proxies.functional import frozen_batchnorm_stats, make_generator
from trainfree.proxies.hooks import call_on_outputs

ACTIVATIONS: tuple[type[nn.Module], ...] = tuple(
    getattr(nn, name) for name in nn.modules.activation.__all__
)


def effective_rank(matrix: torch.Tensor) -> float:
    """``exp`` of the entropy of the normalised singular values; 0 for an all-zero matrix."""
    if not bool(torch.isfinite(matrix).all()):
        raise NonFiniteScoreError("NEAR: an activation matrix contains NaN or inf")
    singular = torch.linalg.svdvals(matrix.double())
    total = singular.sum()
    if float(total) <= 0.0:
        return 0.0
    p = singular[singular > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def is_near_layer(name: str, module: nn.Module) -> bool:
    """Modules with a ``weight`` attribute or an activation class (official selection)."""
    return hasattr(module, "weight") or isinstance(module, ACTIVATIONS)


def activation_matrix(output: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(rows, columns)`` matrix of one output, and the block stride (its last dimension)."""
    stride = output.shape[-1]
    if output.dim() > 2:
        output = output.transpose(1, -1).flatten(0, -2)
    return output.reshape(output.shape[0], -1), stride


def square_block(matrix: torch.Tensor, stride: int, generator: torch.Generator) -> torch.Tensor:
    """``columns`` consecutive rows from a random multiple of ``stride`` (all rows if fewer)."""
    rows, cols = matrix.shape
    if rows <= cols:
        return matrix
    starts = (rows - cols) // stride + 1
    start = int(torch.randint(0, starts, (1,), generator=generator)) * stride
    return matrix[start : start + cols]


@register_proxy(
    "near",
    higher_is_better=True,
    data_mode=DataMode.INPUTS,
    paper="Husistein, Reiher, Eckhoff, NEAR: A Training-Free Pre-Estimator of Machine Learning "
    "Model Performance, ICLR 2025",
    default_init="default",
    batch_size=128,
    repeats=1,
    train_mode=True,
)
def near(model: nn.Module, batch: Batch, seed: int | None = None) -> float:
    """Sum of the effective ranks of every hooked layer's output block."""
    generator = make_generator(seed)
    ranks: list[float] = []

    def score(name: str, output: torch.Tensor) -> None:
        matrix, stride = activation_matrix(output.detach())
        ranks.append(effective_rank(square_block(matrix, stride, generator)))

    hooks = call_on_outputs(model, is_near_layer, score)
    with torch.inference_mode(), frozen_batchnorm_stats(model), hooks:
        model(batch.inputs)
    if not ranks:
        raise TrainfreeError("NEAR found no layer with weights or an activation to score")
    return sum(ranks)
