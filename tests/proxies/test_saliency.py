"""The saliency proxies built on one loss gradient (``snip``, ``grad_norm``, ``plain``)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from proxy_nets_naslib import conv_net, image_batch, run, seeded
from torch import nn

from trainfree.data.batch import Batch


def manual_grads(model: nn.Module, batch: Batch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, grad) of every conv/linear layer via a plain ``.backward()`` on a copy."""
    net = copy.deepcopy(model).train()
    F.cross_entropy(net(batch.inputs), batch.targets).backward()
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    return [(m.weight.detach(), m.weight.grad) for m in layers]


def test_snip_grad_norm_plain_match_backward() -> None:
    model, batch = seeded(conv_net), image_batch()
    pairs = manual_grads(model, batch)
    snip = sum(float((w * g).abs().sum()) for w, g in pairs)
    plain = sum(float((w * g).sum()) for w, g in pairs)
    grad_norm = sum(float(g.norm()) for _, g in pairs)
    assert run("snip", model, batch) == pytest.approx(snip, rel=1e-5)
    assert run("plain", model, batch) == pytest.approx(plain, rel=1e-4, abs=1e-7)
    assert run("grad_norm", model, batch) == pytest.approx(grad_norm, rel=1e-5)
    assert all(p.grad is None for p in model.parameters())
    assert run("snip", model, batch) >= abs(run("plain", model, batch))
