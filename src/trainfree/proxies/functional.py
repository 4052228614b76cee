"""Per-sample gradients and Jacobians with ``torch.func``, and small shared helpers.

Two ways to get one gradient row per sample, both without a Python loop over samples:

* :func:`per_sample_grads` (``vmap(grad)``): each sample goes through the network *alone*, so
  in train mode every BatchNorm normalises a sample with its own statistics (a BatchNorm1d
  cannot: PyTorch refuses one value per channel). With ``coupled=True`` it instead returns the
  rows of :func:`output_jacobian` for the per-sample losses of one whole-batch forward.
* :func:`output_jacobian` (one forward of the whole batch, then one vector-Jacobian product
  per row): row ``i`` is the gradient of a per-sample reduction of the batch output (default:
  the sum of sample ``i``'s logits). In train mode BatchNorm couples the samples exactly as
  TE-NAS's loop of ``B`` backward passes over one forward does (``VITA-Group/TENAS``
  ``lib/procedures/ntk.py``). ``method="loop"`` (default) runs the ``B`` products one after
  another on the retained graph; ``method="vmap"`` vectorises them with ``jacrev``. Both give
  the same rows; on a 2-core CPU the loop measured 1.1-1.8x faster at one thread (more under
  load: vmap's batched convolution backward is slow there; BENCHMARKS.md), so vmap is the
  option, not the default.

BatchNorm buffers: inside both functions every train-mode BatchNorm temporarily stops tracking
running statistics (:func:`frozen_batchnorm_stats`), so batch statistics are used as usual but
``running_mean``/``running_var``/``num_batches_tracked`` are neither read nor updated (an
in-place update under ``vmap`` is impossible, and a proxy should not mutate the model). Eval-mode
BatchNorms use their running statistics unchanged.

Shared work: inside :func:`sharing` (the harness opens it around the proxies of one group, which
see the same network and batch), a function decorated with :func:`shared` runs once per
(network, batch, arguments) and later calls return its first result, so proxies built on one
intermediate (InTrain's three views, GradAlign's two, the saliency proxies' one loss gradient)
compute it once. Outside :func:`sharing` a shared function is an ordinary one.

``chunk_size`` bounds memory: at most that many samples (``per_sample_grads``) or cotangents
(``output_jacobian``, each costing one backward of the whole batch) are vectorised at once;
``None`` vectorises all of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap
from torch.nn.modules.batchnorm import _BatchNorm

from trainfree.errors import TrainfreeError

ParamFilter = str | Callable[[str], bool] | None
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Reduce = str | Callable[[torch.Tensor], torch.Tensor]
T = TypeVar("T")

_SHARED: ContextVar[dict[tuple, Any] | None] = ContextVar("trainfree_shared", default=None)


@contextmanager
def sharing() -> Iterator[dict[tuple, Any]]:
    """Compute each :func:`shared` result once within this block.

    Open it around proxies about to run on one network and batch (a group of
    :func:`trainfree.run.scoring.group_by_preparation`); the block must not outlive that network
    and batch, whose identities are part of the cache key. Yields the block's cache, keyed by
    ``(function, id(model), id(batch), args, sorted kwargs)``, for inspection only.
    """
    cache: dict[tuple, Any] = {}
    token = _SHARED.set(cache)
    try:
        yield cache
    finally:
        _SHARED.reset(token)


def shared(fn: Callable[..., T]) -> Callable[..., T]:
    """Memoise ``fn(model, batch, *args, **kwargs)`` within :func:`sharing` (module docstring).

    Callers must treat the result as read-only. A call that raises is not remembered.
    """

    @functools.wraps(fn)
    def wrapper(model: nn.Module, batch: object, *args: Any, **kwargs: Any) -> T:
        cache = _SHARED.get()
        if cache is None:
            return fn(model, batch, *args, **kwargs)
        key = (fn, id(model), id(batch), args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = fn(model, batch, *args, **kwargs)
        return cache[key]

    return wrapper


@contextmanager
def frozen_batchnorm_stats(model: nn.Module) -> Iterator[None]:
    """Train-mode BatchNorms use batch statistics without touching their running buffers."""
    switched = [
        m
        for m in model.modules()
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats
    ]
    for module in switched:
        module.track_running_stats = False
    try:
        yield
    finally:
        for module in switched:
            module.track_running_stats = True


def select_params(model: nn.Module, params: ParamFilter = None) -> dict[str, torch.Tensor]:
    """Detached trainable parameters whose name passes ``params``.

    ``params`` is ``None`` (all), a substring the name must contain (TE-NAS: ``"weight"``) or a
    predicate on the name. Raises when nothing is selected.
    """
    if params is None:
        keep: Callable[[str], bool] = lambda name: True  # noqa: E731
    elif isinstance(params, str):
        keep = lambda name: params in name  # noqa: E731
    else:
        keep = params
    selected = {
        name: p.detach() for name, p in model.named_parameters() if p.requires_grad and keep(name)
    }
    if not selected:
        raise TrainfreeError("no trainable parameter of the model matches the parameter filter")
    return selected


def _constants(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer, detached: the results carry no autograd graph."""
    state = {name: t.detach() for name, t in model.named_parameters()}
    state.update({name: t.detach() for name, t in model.named_buffers()})
    return state


def flatten_rows(blocks: Iterable[torch.Tensor]) -> torch.Tensor:
    """``(B, P)``: per-sample blocks ``(B, *shape)`` flattened and joined column-wise (a single
    block is only reshaped, not copied)."""
    flat = [g.flatten(1) for g in blocks]
    return flat[0] if len(flat) == 1 else torch.cat(flat, dim=1)


def per_sample_grads(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: LossFn,
    **options: Any,
) -> torch.Tensor:
    """Gradients ``(B, P)`` of each sample's loss w.r.t. the selected parameters: the blocks of
    :func:`per_sample_grad_blocks` (same keywords) joined, columns in ``named_parameters()``
    order, each tensor flattened."""
    return flatten_rows(per_sample_grad_blocks(model, inputs, targets, loss_fn, **options))


def per_sample_grad_blocks(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: LossFn,
    *,
    params: ParamFilter = None,
    chunk_size: int | None = None,
    coupled: bool = False,
) -> list[torch.Tensor]:
    """Per-sample gradients of each sample's loss w.r.t. the selected parameters: one
    ``(B, *shape)`` tensor per parameter (``coupled=True``: the one ``(B, P)`` tensor of rows).

    ``loss_fn(logits, targets)`` returns one loss per row (``reduction="none"``).
    ``coupled=True``: one forward of the whole batch (see the module docstring). A consumer
    that reduces each block (a Gram matrix sums one product per block) saves the ``(B, P)``
    copy, hundreds of MB for a full-size network.
    """
    if coupled:
        rows = output_jacobian(
            model,
            inputs,
            reduce=lambda logits: loss_fn(logits, targets),
            params_filter=params,
            chunk_size=chunk_size,
        )
        return [rows]
    selected = select_params(model, params)
    constants = _constants(model)

    def sample_loss(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = functional_call(model, {**constants, **p}, (x.unsqueeze(0),))
        return loss_fn(logits, y.unsqueeze(0)).sum()

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)
    with frozen_batchnorm_stats(model):
        grads = per_sample(selected, inputs, targets)
    return list(grads.values())


def output_jacobian(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    reduce: Reduce = "sum",
    params_filter: ParamFilter = None,
    chunk_size: int | None = None,
    method: str = "loop",
) -> torch.Tensor:
    """Row ``i``: gradient of ``reduce(model(inputs))[i]`` w.r.t. the selected parameters.

    ``reduce="sum"`` sums each sample's logits (TE-NAS's NTK); a callable maps the ``(B, K)``
    output of one whole-batch forward to ``(B,)``. ``method`` is ``"loop"`` or ``"vmap"`` (see
    the module docstring; ``chunk_size`` applies to ``"vmap"``). Returns ``(B, P)``.
    """
    if reduce == "sum":
        reduce = lambda out: out.flatten(1).sum(1)  # noqa: E731
    elif isinstance(reduce, str):
        raise TrainfreeError(f"unknown reduction {reduce!r} (known: 'sum' or a callable)")
    if method not in ("loop", "vmap"):
        raise TrainfreeError(f"unknown Jacobian method {method!r} (known: 'loop', 'vmap')")
    selected = select_params(model, params_filter)
    constants = _constants(model)

    def rows(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return reduce(functional_call(model, {**constants, **p}, (inputs,)))

    with frozen_batchnorm_stats(model):
        if method == "vmap":
            return flatten_rows(jacrev(rows, chunk_size=chunk_size)(selected).values())
        leaves = [t.clone().requires_grad_() for t in selected.values()]
        with torch.enable_grad():
            out = rows(dict(zip(selected, leaves, strict=True)))
        return _backward_rows(out, leaves)


def _backward_rows(out: torch.Tensor, leaves: list[torch.Tensor]) -> torch.Tensor:
    """``(B, P)``: one backward pass per element of ``out`` over its retained graph.

    With ``n = torch.get_num_threads() > 1`` the passes are spread over ``n`` Python threads
    of one intra-op thread each: the networks these rows are needed for (TE-NAS's ``C=3``
    NB201 network) are too small for intra-op threads to help, while independent backward
    passes over a shared, retained graph run in parallel (PyTorch's autograd supports that).
    Measured on 2 cores: 1.9-2.0x faster than one thread, rows bit-identical to it.
    """

    def row(i: int) -> torch.Tensor:
        grads = torch.autograd.grad(
            out[i], leaves, retain_graph=True, allow_unused=True, materialize_grads=True
        )
        return torch.cat([g.reshape(-1) for g in grads])

    intra_op = torch.get_num_threads()
    threads = min(intra_op, out.shape[0])
    if threads <= 1 or out.device.type != "cpu":
        return torch.stack([row(i) for i in range(out.shape[0])])
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(threads)
    try:
        return torch.stack(list(pool.map(row, range(out.shape[0]))))
    finally:  # an interrupt: drop the queued rows, let the running ones end, then restore
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(intra_op)


def make_generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with ``seed``, or with a draw from the global torch RNG.

    ``seed=None`` keeps a proxy reproducible under the harness, which seeds the global RNG
    before building the network (``torch.manual_seed(seed + repeat)``).
    """
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)))
    return torch.Generator().manual_seed(seed)
