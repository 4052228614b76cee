"""Pieces of the block-level ("macro") spaces: ``mnasnet``, ``nb_macro``, ``channel_macro``.

A macro network is a chain ``stem -> blocks -> head``. Every piece is described by a small
frozen dataclass (a *piece spec*) that builds its module, so one plan of specs serves both
:class:`MacroNetwork` (the PyTorch network) and :func:`plan_complexity` (its MACs and
parameters, summed piece by piece and memoised per (spec, input shape): counting an
architecture costs a few dictionary look-ups once its pieces have been seen, and always agrees
with the built network).

:class:`MacroNetwork` keeps the searchable layers in one ``nn.Sequential`` named ``blocks``,
and the stem and head as plain modules, so that proxies that look for "the blocks" of a network
(InTrain's ``layers="blocks"``) find exactly the searchable layers.

**Cell-space sizes on block networks.** Proxies that score a smaller copy of the network ask
for it with cell-space size keywords (``ProxySpec.build_overrides``): TE-NAS's NTK condition
number (``tenas_ntk``: ``C=3, N=1``) and linear regions (``tenas_lr``: ``C=1, N=1, depth=1,
stem=False, in_channels=1``), sizes of NAS-Bench-201's network (Chen, Gong & Wang, ICLR 2021,
``model_config`` / ``model_config_thin``). Every macro space's ``build`` reads them as follows
(:data:`CELL_SIZES`; a choice, since the paper defines them for cells only):

* ``C``: every width of the network (stem, blocks, head; the input channels excepted) times
  ``C / 16``, NAS-Bench-201's full ``C`` (rounded, at least 1): the same fraction of the
  full-size network TE-NAS uses on NAS-Bench-201. Equal widths stay equal, and at ``C`` 1 and 3
  no two different widths of a stride-1 layer merge in these spaces, so the thin copy keeps the
  network's shortcuts and expansion-free layers.
* ``in_channels``: the stem's input channels, as in every space (1 for the linear-region crops).
* ``N``, ``depth`` and ``stem`` are ignored: a cell network's depth (``N`` cells per stage, the
  first ``depth`` cells) repeats one searched cell, whereas every layer of a block network is
  searched, so all of them are kept; the fixed stem is kept as the place where ``in_channels``
  enters.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from trainfree.complexity import Complexity, count_complexity
from trainfree.errors import TrainfreeError
from trainfree.spaces.base import InvalidArchError, SearchSpace


class HardSigmoid(nn.Module):
    """``nn.Hardsigmoid``'s function, ``relu6(x + 3) / 6``, written so that its backward is
    differentiable again (aten's ``hardsigmoid_backward`` has no derivative, and GraSP's
    Hessian-gradient product needs one)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) / 6.0


#: Activation name -> (activation, squeeze-and-excitation gate), as in torchvision-style
#: EfficientNets: ReLU with a hard sigmoid gate, or SiLU with a sigmoid gate.
ACTIVATIONS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "relu": (nn.ReLU, HardSigmoid),
    "silu": (nn.SiLU, nn.Sigmoid),
}


def check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise TrainfreeError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")


def make_divisible(value: float, divisor: int = 8) -> int:
    """The nearest multiple of ``divisor`` (at least ``divisor``), never more than 10% below
    ``value``: MobileNet/EfficientNet's channel rounding (TensorFlow's ``_make_divisible``)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class Piece(ABC):
    """A hashable description of one module of a macro network."""

    @abstractmethod
    def build(self) -> nn.Module:
        """The module (PyTorch default initialisation)."""


class ConvBNAct(nn.Module):
    """Convolution (no bias, "same" padding) -> BatchNorm -> optional activation."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 1,
        *,
        groups: int = 1,
        activation: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(c_out)
        self.act = activation() if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


@dataclass(frozen=True)
class Conv(Piece):
    """:class:`ConvBNAct` (``activation=None``: no activation)."""

    c_in: int
    c_out: int
    kernel: int
    stride: int = 1
    activation: str | None = "relu"

    def build(self) -> nn.Module:
        act = ACTIVATIONS[self.activation][0] if self.activation else None
        return ConvBNAct(self.c_in, self.c_out, self.kernel, self.stride, activation=act)


class SqueezeExcitation(nn.Module):
    """``x * gate(fc2(act(fc1(pool(x)))))`` with biased 1x1 convolutions (Hu et al., CVPR 2018)."""

    def __init__(self, channels: int, squeeze: int, activation: str) -> None:
        super().__init__()
        act, gate = ACTIVATIONS[activation]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class InvertedResidualBlock(nn.Module):
    """MobileNetV2's inverted residual (Sandler et al., CVPR 2018): 1x1 expansion (omitted when
    ``hidden == c_in``), depthwise ``kernel`` x ``kernel`` with ``stride``, optional
    squeeze-and-excitation on the expanded features, linear 1x1 projection; an identity
    shortcut when ``stride == 1`` and ``c_in == c_out``."""

    def __init__(
        self,
        c_in: int,
        hidden: int,
        c_out: int,
        kernel: int,
        stride: int,
        *,
        squeeze: int = 0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        act = ACTIVATIONS[activation][0]
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(ConvBNAct(c_in, hidden, 1, activation=act))
        layers.append(ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, activation=act))
        if squeeze:
            layers.append(SqueezeExcitation(hidden, squeeze, activation))
        layers.append(ConvBNAct(hidden, c_out, 1, activation=None))
        self.conv = nn.Sequential(*layers)
        self.shortcut = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.shortcut else out


@dataclass(frozen=True)
class InvertedResidual(Piece):
    """:class:`InvertedResidualBlock`; ``squeeze`` channels of squeeze-and-excitation (0: none)."""

    c_in: int
    hidden: int
    c_out: int
    kernel: int
    stride: int
    squeeze: int = 0
    activation: str = "relu"

    def build(self) -> nn.Module:
        return InvertedResidualBlock(
            self.c_in,
            self.hidden,
            self.c_out,
            self.kernel,
            self.stride,
            squeeze=self.squeeze,
            activation=self.activation,
        )


@dataclass(frozen=True)
class Skip(Piece):
    """An identity layer; where the shape changes, a 1x1 convolution with ``stride`` and BN
    (NAS-Bench-Macro's ``Identity`` op)."""

    c_in: int
    c_out: int
    stride: int = 1

    def build(self) -> nn.Module:
        if self.stride == 1 and self.c_in == self.c_out:
            return nn.Identity()
        return ConvBNAct(self.c_in, self.c_out, 1, self.stride, activation=None)


class BasicBlock(nn.Module):
    """ResNet's basic block (He et al., CVPR 2016): two 3x3 Conv-BN (the first with ``stride``
    and ReLU), an identity shortcut when ``residual``, then ReLU."""

    def __init__(self, c_in: int, mid: int, c_out: int, stride: int, residual: bool) -> None:
        super().__init__()
        if residual and (stride != 1 or c_in != c_out):
            raise TrainfreeError("a residual basic block needs stride 1 and c_in == c_out")
        self.conv = nn.Sequential(
            ConvBNAct(c_in, mid, 3, stride), ConvBNAct(mid, c_out, 3, activation=None)
        )
        self.residual = residual
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return self.act(out + x if self.residual else out)


@dataclass(frozen=True)
class Basic(Piece):
    """:class:`BasicBlock`."""

    c_in: int
    mid: int
    c_out: int
    stride: int = 1
    residual: bool = True

    def build(self) -> nn.Module:
        return BasicBlock(self.c_in, self.mid, self.c_out, self.stride, self.residual)


class HeadModule(nn.Module):
    """Optional 1x1 Conv-BN-activation to ``c_last`` channels, global average pool, linear."""

    def __init__(self, c_in: int, c_last: int, num_classes: int, activation: str) -> None:
        super().__init__()
        self.conv = (
            ConvBNAct(c_in, c_last, 1, activation=ACTIVATIONS[activation][0])
            if c_last
            else nn.Identity()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_last or c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.conv(x)).flatten(1))


@dataclass(frozen=True)
class Head(Piece):
    """:class:`HeadModule` (``c_last=0``: pool and classify the input directly)."""

    c_in: int
    c_last: int
    num_classes: int
    activation: str = "relu"

    def build(self) -> nn.Module:
        return HeadModule(self.c_in, self.c_last, self.num_classes, self.activation)


@dataclass(frozen=True)
class Plan:
    """The pieces of one network: stem, searchable blocks (in order) and head."""

    stem: Piece
    blocks: tuple[Piece, ...]
    head: Piece

    def pieces(self) -> tuple[Piece, ...]:
        return (self.stem, *self.blocks, self.head)


class MacroNetwork(nn.Module):
    """``head(blocks(stem(x)))``; ``blocks`` is the ``nn.Sequential`` of searchable layers."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.stem = plan.stem.build()
        self.blocks = nn.Sequential(*(piece.build() for piece in plan.blocks))
        self.head = plan.head.build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


@functools.cache
def _piece_cost(
    piece: Piece, shape: tuple[int, ...], convention: str
) -> tuple[Complexity, tuple[int, ...]]:
    """Complexity and output shape of ``piece`` on one input of ``shape`` (counted on meta)."""
    with torch.device("meta"):
        module = piece.build()
        with torch.no_grad():
            out_shape = tuple(module.eval()(torch.zeros(shape)).shape)
    return count_complexity(module, shape, convention=convention), out_shape


def plan_complexity(
    plan: Plan, input_shape: Sequence[int], *, convention: str = "conv_linear"
) -> Complexity:
    """MACs and parameters of ``MacroNetwork(plan)`` on one input of ``input_shape``: the sum
    over its pieces (exact, since every counted operation lies inside one piece)."""
    total, shape = Complexity(0, 0), tuple(input_shape)
    for piece in plan.pieces():
        cost, shape = _piece_cost(piece, shape, convention)
        total += cost
    return total


#: Cell-space size keywords every macro ``build`` accepts (module docstring): ``C`` scales the
#: widths by ``C / FULL_C`` (NAS-Bench-201's full ``C``), the others are ignored.
CELL_SIZES: tuple[str, ...] = ("C", "N", "depth", "stem")
FULL_C = 16
#: Fields of the piece specs that are channel numbers (a piece's input ``c_in`` excepted).
_WIDTHS = ("hidden", "mid", "c_out", "squeeze", "c_last")


def scale_widths(plan: Plan, factor: float) -> Plan:
    """``plan`` with every width times ``factor`` (rounded, at least 1; 0, "none", stays 0),
    the network's input channels unchanged. Each piece's input width is the width its
    predecessor outputs, scaled the same way, so the pieces still fit together."""

    def scaled(width: int) -> int:
        return max(1, round(width * factor)) if width else 0

    def piece(spec: Piece, keep_input: bool) -> Piece:
        names = [f.name for f in fields(spec)]  # type: ignore[arg-type]
        changes = {k: scaled(getattr(spec, k)) for k in _WIDTHS if k in names}
        if not keep_input:
            changes["c_in"] = scaled(spec.c_in)  # type: ignore[attr-defined]
        return replace(spec, **changes)  # type: ignore[type-var]

    return Plan(
        piece(plan.stem, True), tuple(piece(b, False) for b in plan.blocks), piece(plan.head, False)
    )


def network_builder(plan: Callable[..., Plan]) -> Callable[..., nn.Module]:
    """A ``build`` method that returns ``MacroNetwork(plan(arch, **keywords))`` and has
    ``plan``'s signature, so its keywords are the space's size keywords (``size_options``);
    it also takes the cell-space sizes of :data:`CELL_SIZES` (TE-NAS's thin networks)."""

    signature = inspect.signature(plan)
    known = [k for k in list(signature.parameters)[1:] if k not in ("num_classes", "in_channels")]

    def build(self: SearchSpace, arch: str, **keywords: Any) -> nn.Module:
        cell = {k: keywords.pop(k) for k in CELL_SIZES if k in keywords}
        for key in keywords:
            if key not in signature.parameters or key == "arch":
                raise TrainfreeError(
                    f"space {self.name!r} has no build keyword {key!r} (sizes: {', '.join(known)})"
                )
        planned = plan(arch, **keywords)
        if "C" in cell:
            check_positive(self.name, C=cell["C"])
            planned = scale_widths(planned, cell["C"] / FULL_C)
        return MacroNetwork(planned)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    build.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_param, *signature.parameters.values()], return_annotation=nn.Module
    )
    build.__doc__ = (
        f"``MacroNetwork(plan(arch, **keywords))``, widths times ``C / {FULL_C}`` with the "
        f"cell-space keyword ``C`` (``N``, ``depth``, ``stem`` ignored), where ``plan``: "
        f"{plan.__doc__}"
    )
    return build


class PlannedSpace(SearchSpace):
    """A space whose networks are ``MacroNetwork(self.plan(arch, **sizes))``, where ``sizes``
    are the keywords of its ``build``; :meth:`complexity` sums memoised piece counts.
    Subclasses set ``plan = staticmethod(plan_function)`` and
    ``build = network_builder(plan_function)``.

    A variant (``space[key=value]``) has other ``build`` defaults. When the variant class
    carries them as ``build_sizes`` they are used directly; otherwise the variant's network is
    built on the ``meta`` device (no weights, no arithmetic) once per call, only to read its
    plan.
    """

    @abstractmethod
    def plan(self, arch: str, **sizes: Any) -> Plan:
        """The pieces of ``arch``'s network for the ``build`` keywords ``sizes``."""

    def _plan_as_built(self, arch: str) -> Plan:
        """The plan of the network ``self.build(arch)`` builds (:attr:`default_num_classes`)."""
        own = vars(type(self))
        if "plan" in own or "build_sizes" in own:
            sizes = dict(own.get("build_sizes", {}))
            return self.plan(arch, num_classes=self.default_num_classes, **sizes)
        with torch.device("meta"):
            model = self.build(arch, num_classes=self.default_num_classes)
        if not isinstance(model, MacroNetwork):
            raise TrainfreeError(f"{self.name} built a {type(model).__name__}, not a MacroNetwork")
        return model.plan

    def complexity(self, arch: str, *, image_size: int | None = None) -> dict[str, int]:
        side = self.default_image_size if image_size is None else image_size
        check_positive(self.name, image_size=side)
        counted = plan_complexity(
            self._plan_as_built(arch), (1, 3, side, side), convention=self.complexity_convention
        )
        return counted.as_dict()


def parse_code(space: str, arch: str, digits: str, length: int, meaning: str) -> tuple[int, ...]:
    """The digits of a ``length``-digit code over ``digits``; raise :class:`InvalidArchError`
    with one line that says what the digits mean."""
    if not isinstance(arch, str):
        raise InvalidArchError(f"{space} arch must be a string, got {type(arch).__name__}")
    code = arch.strip()
    if len(code) != length or any(c not in digits for c in code):
        raise InvalidArchError(
            f"{space} arch must be {length} digits in {digits[0]}-{digits[-1]} ({meaning}), "
            f"got {arch!r}"
        )
    return tuple(int(c) for c in code)


class CodeSpace(PlannedSpace):
    """A finite space of fixed-length codes, one digit of :attr:`digits` per searchable layer,
    every combination valid."""

    digits: ClassVar[str]
    length: ClassVar[int]
    meaning: ClassVar[str]  # what the digits mean, for error messages

    def parse(self, arch: str) -> tuple[int, ...]:
        return parse_code(self.name, arch, self.digits, self.length, self.meaning)

    def canonical(self, arch: str) -> str:
        return "".join(map(str, self.parse(arch)))

    def size(self) -> int:
        return len(self.digits) ** self.length

    def enumerate(self) -> Iterator[str]:
        """Every code in increasing order (``itertools.product`` over the digits)."""
        return ("".join(c) for c in itertools.product(self.digits, repeat=self.length))

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """``n`` distinct codes, uniformly without replacement (``random.Random(seed)``)."""
        size, base = self.size(), len(self.digits)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= size:
            raise TrainfreeError(f"{self.name} can sample 0..{size} architectures, not {n!r}")
        return [
            "".join(self.digits[i // base**p % base] for p in reversed(range(self.length)))
            for i in random.Random(seed).sample(range(size), n)
        ]

    def neighbours(self, arch: str) -> list[str]:
        """The codes that differ in one digit."""
        code = self.canonical(arch)
        return [
            code[:i] + d + code[i + 1 :]
            for i in range(self.length)
            for d in self.digits
            if d != code[i]
        ]

    def mutate(self, arch: str, rng: random.Random) -> str:
        """One uniformly chosen layer switched to a uniformly chosen other digit."""
        return rng.choice(self.neighbours(arch))


def check_positive(space: str, **sizes: float) -> None:
    """Every size keyword must be a positive number (``bool`` is not a number here)."""
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise TrainfreeError(f"{space}: {key} must be positive, got {value!r}")
