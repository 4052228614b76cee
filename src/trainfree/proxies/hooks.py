"""Forward hooks shared by the activation-based proxies (naswot, NEAR, InTrain, MeCo, SWAP...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

ModuleFilter = Callable[[str, nn.Module], bool]
TensorSink = Callable[[str, torch.Tensor], None]


def is_relu(name: str, module: nn.Module) -> bool:
    return isinstance(module, nn.ReLU)


def is_weighted(name: str, module: nn.Module) -> bool:
    """Conv and linear layers (the "prunable" layers of the zero-cost literature)."""
    return isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear)


@contextmanager
def call_on_outputs(
    model: nn.Module, select: ModuleFilter, sink: TensorSink, *, inputs: bool = False
) -> Iterator[None]:
    """Call ``sink(module name, output)`` on every call of a selected module, in call order.

    With ``inputs=True`` the module's first input is passed instead of its output. Tuple
    outputs contribute their first element. Use this instead of :func:`record_outputs` to
    reduce each activation on the fly (for example into a kernel) without keeping it alive.
    """

    def make_hook(name: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            value = args[0] if inputs else output
            if isinstance(value, tuple | list):
                value = value[0]
            if isinstance(value, torch.Tensor):
                sink(name, value)

        return hook

    handles = [
        module.register_forward_hook(make_hook(name))
        for name, module in model.named_modules()
        if select(name, module)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def record_outputs(
    model: nn.Module, select: ModuleFilter, *, inputs: bool = False
) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Record (module name, output) pairs, in call order, for every selected module.

    With ``inputs=True`` the module's first input is recorded instead of its output. Tuple
    outputs contribute their first element. A module called twice appears twice.
    """
    records: list[tuple[str, torch.Tensor]] = []
    with call_on_outputs(model, select, lambda name, t: records.append((name, t)), inputs=inputs):
        yield records
