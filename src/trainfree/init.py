"""Explicit, verifiable weight initialisation schemes (every scheme applied by name and checked).

TE-NAS's official launcher silently keeps PyTorch's default init because of a name mismatch; here
every scheme is applied by name and :func:`apply_init` fails loudly on an unknown name. Every
scheme zeroes conv/linear biases and sets normalisation layers to weight 1, bias 0, except
``default``, which calls each module's own ``reset_parameters``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from trainfree.registry import Registry

WeightInit = Callable[[torch.Tensor], object]

INITS: Registry[WeightInit | None] = Registry("initialisation")
INITS.add("default", None)
INITS.add("kaiming_normal_fan_in", lambda w: nn.init.kaiming_normal_(w, mode="fan_in"))
INITS.add("kaiming_normal_fan_out", lambda w: nn.init.kaiming_normal_(w, mode="fan_out"))
INITS.add("kaiming_uniform_fan_in", lambda w: nn.init.kaiming_uniform_(w, mode="fan_in"))
INITS.add("kaiming_uniform_fan_out", lambda w: nn.init.kaiming_uniform_(w, mode="fan_out"))
INITS.add("xavier_normal", nn.init.xavier_normal_)
INITS.add("xavier_uniform", nn.init.xavier_uniform_)
INITS.add("orthogonal", nn.init.orthogonal_)

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _channels_last(model: nn.Module) -> bool:
    return any(
        p.dim() == 4
        and not p.is_contiguous()
        and p.is_contiguous(memory_format=torch.channels_last)
        for p in model.parameters()
    )


@torch.no_grad()
def apply_init(model: nn.Module, scheme: str) -> nn.Module:
    """Initialise ``model`` in place with the named scheme and return it.

    The weights are drawn in the default layout whatever ``model``'s: random fills follow memory
    order, so a channels-last model gets the same weights as a contiguous one (and keeps its
    layout)."""
    if _channels_last(model):
        model.to(memory_format=torch.contiguous_format)
        apply_init(model, scheme)
        return model.to(memory_format=torch.channels_last)
    weight_init = INITS.get(scheme)
    for module in model.modules():
        if weight_init is None:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
            continue
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear):
            weight_init(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _NORMS):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
    return model
