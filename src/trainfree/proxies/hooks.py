"""Forward hooks shared by the activation-based proxies (naswot, NEAR, InTrain, MeCo, SWAP...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

ModuleFilter = Callable[[str, nn.Module], bool]


def is_relu(name: str, module: nn.Module) -> bool:
    return isinstance(module, nn.ReLU)


def is_weighted(name: str, module: nn.Module) -> bool:
    """Conv and linear layers (the "prunable" layers of the zero-cost literature)."""
    return isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear)


@contextmanager
def record_outputs(
    model: nn.Module, select: ModuleFilter, *, inputs: bool = False
) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Record (module name, output) pairs, in call order, for every selected module.

    With ``inputs=True`` the module's first input is recorded instead of its output. Tuple
    outputs contribute their first element. A module called twice appears twice.
    """
    records: list[tuple[str, torch.Tensor]] = []

    def make_hook(name: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            value = args[0] if inputs else output
            if isinstance(value, tuple | list):
                value = value[0]
            if isinstance(value, torch.Tensor):
                records.append((name, value))

        return hook

    handles = [
        module.register_forward_hook(make_hook(name))
        for name, module in model.named_modules()
        if select(name, module)
    ]
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()
