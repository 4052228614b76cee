"""``proxies/functional.py``: per-sample gradients and Jacobians with ``torch.func``, sharing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from loop_reference import coupled_rows_loop, per_sample_grads_loop
from proxy_nets_seed import TinyResNet, image_batch, seeded, tiny_mlp, vector_batch
from torch import nn

import trainfree.proxies  # noqa: F401  (registers every proxy)
from trainfree.errors import TrainfreeError
from trainfree.proxies.functional import output_jacobian, per_sample_grads, shared, sharing


def ce_rows(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets, reduction="none")


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("make", [TinyResNet, tiny_mlp])
def test_per_sample_grads_match_loop(make) -> None:
    model = seeded(make)
    batch = image_batch() if make is TinyResNet else vector_batch()
    rows = per_sample_grads(model, batch.inputs, batch.targets, ce_rows, chunk_size=3)
    reference = per_sample_grads_loop(model, batch.inputs, batch.targets, ce_rows)
    torch.testing.assert_close(rows, reference, rtol=1e-4, atol=1e-6)


def test_output_jacobian_matches_tenas_loop_with_coupled_batchnorm() -> None:
    """One whole-batch forward, one backward per sample (VITA-Group/TENAS ntk.py)."""
    model = seeded(TinyResNet)
    batch = image_batch()
    rows = output_jacobian(model, batch.inputs, params_filter="weight", chunk_size=3)
    reference = coupled_rows_loop(model, batch.inputs, params="weight")
    torch.testing.assert_close(rows, reference, rtol=1e-4, atol=1e-6)


def test_coupled_per_sample_grads_sum_to_batch_gradient() -> None:
    model = seeded(TinyResNet)
    batch = image_batch()
    rows = per_sample_grads(model, batch.inputs, batch.targets, ce_rows, coupled=True)
    model.zero_grad()
    ce_rows(model(batch.inputs), batch.targets).sum().backward()
    torch.testing.assert_close(rows.sum(0), flat_grad(model), rtol=1e-4, atol=1e-6)


def test_param_filter_selects_columns() -> None:
    model = seeded(tiny_mlp)
    batch = vector_batch()
    rows = per_sample_grads(model, batch.inputs, batch.targets, ce_rows, params="bias")
    assert rows.shape == (len(batch), 16 + 8 + 5)
    with pytest.raises(TrainfreeError):
        per_sample_grads(model, batch.inputs, batch.targets, ce_rows, params="nothing")


def test_loop_and_vmap_jacobians_agree_with_coupled_batchnorm() -> None:
    model = seeded(TinyResNet)
    batch = image_batch()
    loop = output_jacobian(model, batch.inputs, params_filter="weight")
    vmapped = output_jacobian(model, batch.inputs, params_filter="weight", method="vmap")
    assert loop.shape == vmapped.shape == (len(batch), loop.shape[1])
    torch.testing.assert_close(loop, vmapped, rtol=1e-4, atol=1e-6)
    with pytest.raises(TrainfreeError, match="Jacobian method"):
        output_jacobian(model, batch.inputs, method="forward")


def test_shared_memoises_per_model_batch_and_arguments():
    calls: list[tuple] = []

    @shared
    def work(model: object, batch: object, k: int) -> int:
        calls.append((id(model), k))
        return k * 10

    a, b, batch = object(), object(), object()
    assert work(a, batch, 1) == work(a, batch, 1) == 10 and len(calls) == 2  # no block: no cache
    calls.clear()
    with sharing():
        assert [work(a, batch, 1), work(a, batch, 1), work(b, batch, 1), work(a, batch, 2)] == [
            10,
            10,
            10,
            20,
        ]
    assert len(calls) == 3
    with sharing():
        work(a, batch, 1)
    assert len(calls) == 4  # a new block starts empty


def test_a_batch_smaller_than_the_thread_count_leaves_the_thread_count_alone() -> None:
    """The loop Jacobian spreads its rows over at most one thread per row, then restores torch's
    global intra-op thread count to what it was, not to the number of rows."""
    model = seeded(tiny_mlp)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        rows = output_jacobian(model, vector_batch(n=2).inputs)
        assert rows.shape[0] == 2
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)
