"""The straightforward way: one Python-level backward pass per sample.

Loop references for the ``torch.func`` fast paths of :mod:`trainfree.proxies.functional`, kept
out of the package on purpose: the tests use them to prove the fast paths give identical rows,
and ``benchmarks/speed.py`` (which puts this folder on ``sys.path``) to measure the speed-up.

Both return ``(B, P)`` rows whose columns follow ``model.named_parameters()`` order (each tensor
flattened), over the trainable parameters whose name contains ``params`` (``None``: all), as
:func:`trainfree.proxies.functional.select_params` selects them. A parameter a sample's output
does not depend on contributes zeros.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _selected(model: nn.Module, params: str | None) -> list[torch.Tensor]:
    return [
        p
        for name, p in model.named_parameters()
        if p.requires_grad and (params is None or params in name)
    ]


def _row(output: torch.Tensor, weights: list[torch.Tensor], retain_graph: bool) -> torch.Tensor:
    grads = torch.autograd.grad(
        output, weights, retain_graph=retain_graph, allow_unused=True, materialize_grads=True
    )
    return torch.cat([g.flatten() for g in grads])


def per_sample_grads_loop(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: LossFn,
    params: str | None = None,
) -> torch.Tensor:
    """Each sample through the network alone (batch of one), one backward of its loss each.

    The reference for ``per_sample_grads(..., coupled=False)`` (``vmap(grad)``). In train mode a
    forward updates BatchNorm running statistics, which train-mode outputs never read.
    """
    weights = _selected(model, params)
    rows = [
        _row(loss_fn(model(inputs[i : i + 1]), targets[i : i + 1]).sum(), weights, False)
        for i in range(inputs.shape[0])
    ]
    return torch.stack(rows)


def coupled_rows_loop(
    model: nn.Module,
    inputs: torch.Tensor,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    params: str | None = "weight",
) -> torch.Tensor:
    """TE-NAS's NTK loop (``VITA-Group/TENAS`` ``lib/procedures/ntk.py``): one forward of the
    whole batch, then one backward per sample with ``retain_graph=True``.

    Row ``i`` is the gradient of ``reduce(model(inputs))[i]`` (default: the sum of sample
    ``i``'s logits, TE-NAS's NTK) w.r.t. the parameters whose name contains ``params``
    (default ``"weight"``, as TE-NAS). The reference for ``output_jacobian`` and
    ``per_sample_grads(..., coupled=True)``.
    """
    outputs = model(inputs)
    values = outputs.flatten(1).sum(1) if reduce is None else reduce(outputs)
    weights = _selected(model, params)
    return torch.stack([_row(value, weights, True) for value in values])
