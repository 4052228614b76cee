"""A space of multilayer perceptrons, for NEAR's layer sizing and activation/init choice
(Husistein, Reiher, Eckhoff, "NEAR: A Training-Free Pre-Estimator of Machine Learning Model
Performance", ICLR 2025, section on MLPs).

An architecture is its hidden widths, one activation shared by every hidden layer and a weight
initialisation, written canonically as::

    mlp:64-32|relu|kaiming_normal_fan_in

Input and output sizes are *not* part of the string: :meth:`MLPSpace.build` takes them
(``in_features``, ``num_classes``). The leading ``mlp:`` may be omitted on input; names are
case-insensitive. The network is ``Flatten -> (Linear -> activation) x depth -> Linear``, with
modules named ``flatten``, ``fc0``, ``act0``, ``fc1``, ..., ``head``.

Unlike the cell spaces, an MLP architecture *carries* its initialisation: :meth:`build` applies it
itself (through :func:`trainfree.init.apply_init`, drawing from the caller's global torch RNG, so
``torch.manual_seed`` before ``build`` fixes the weights). A harness that re-initialises the
built model afterwards (``score_arch`` applies the proxy's default init) overrides it; such a
harness can ask :meth:`MLPSpace.arch_init` for the scheme instead.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, replace

from torch import nn

from trainfree.init import INITS, apply_init
from trainfree.spaces import register_space
from trainfree.spaces.base import InvalidArchError, SearchSpace

PREFIX = "mlp:"
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanhshrink": nn.Tanhshrink,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "mish": nn.Mish,
}
WIDTHS: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)  # the grid of sample/mutate
MAX_DEPTH = 4


@dataclass(frozen=True)
class MLPArch:
    """Hidden widths, activation name and init scheme of one MLP."""

    hidden: tuple[int, ...]
    activation: str
    init: str

    def __str__(self) -> str:
        widths = "-".join(str(w) for w in self.hidden)
        return f"{PREFIX}{widths}|{self.activation}|{self.init}"


def parse_mlp(text: str) -> MLPArch:
    """Read ``[mlp:]W1-W2-...|ACTIVATION|INIT``; raise :class:`InvalidArchError` otherwise."""
    if not isinstance(text, str):
        raise InvalidArchError(f"MLP architecture must be a string, got {type(text).__name__}")
    body = text.strip().lower().removeprefix(PREFIX)
    parts = [p.strip() for p in body.split("|")]
    if len(parts) != 3:
        raise InvalidArchError(f"MLP architecture {text!r} is not 'mlp:W1-W2-...|ACTIVATION|INIT'")
    widths, activation, init = parts
    try:
        hidden = tuple(int(w) for w in widths.split("-"))
    except ValueError:
        raise InvalidArchError(f"MLP widths {widths!r} must be integers joined by '-'") from None
    if any(w < 1 for w in hidden):
        raise InvalidArchError(f"MLP widths must be positive, got {widths!r}")
    if activation not in ACTIVATIONS:
        known = ", ".join(ACTIVATIONS)
        raise InvalidArchError(f"unknown MLP activation {activation!r} (known: {known})")
    if init not in INITS:
        raise InvalidArchError(f"unknown initialisation {init!r} (known: {', '.join(INITS)})")
    return MLPArch(hidden, activation, init)


def build_mlp(arch: MLPArch, in_features: int, num_classes: int) -> nn.Sequential:
    """The untrained network of ``arch`` with PyTorch default initialisation."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    width = in_features
    for i, out in enumerate(arch.hidden):
        layers[f"fc{i}"] = nn.Linear(width, out)
        layers[f"act{i}"] = ACTIVATIONS[arch.activation]()
        width = out
    layers["head"] = nn.Linear(width, num_classes)
    return nn.Sequential(layers)


def _width_steps(width: int) -> list[int]:
    """The grid widths one step below and above ``width`` (off-grid widths step onto the grid)."""
    below = [w for w in WIDTHS if w < width]
    above = [w for w in WIDTHS if w > width]
    return below[-1:] + above[:1]


@register_space
class MLPSpace(SearchSpace):
    """Multilayer perceptrons: hidden widths, activation and initialisation (NEAR, ICLR 2025)."""

    name = "mlp"

    def canonical(self, arch: str) -> str:
        return str(parse_mlp(arch))

    def sample(self, n: int, *, seed: int = 0) -> list[str]:
        """``n`` distinct MLPs: depth uniform in 1..4, widths, activation and init uniform."""
        rng = random.Random(seed)
        inits = INITS.names()
        seen: dict[str, None] = {}
        while len(seen) < n:
            depth = rng.randint(1, MAX_DEPTH)
            hidden = tuple(rng.choice(WIDTHS) for _ in range(depth))
            arch = MLPArch(hidden, rng.choice(list(ACTIVATIONS)), rng.choice(inits))
            seen[str(arch)] = None
        return list(seen)

    def neighbours(self, arch: str) -> list[str]:
        """One step away: a width to the adjacent grid value, one layer more (repeating the last
        width) or less, another activation, or another init."""
        a = parse_mlp(arch)
        out = [
            replace(a, hidden=(*a.hidden[:i], step, *a.hidden[i + 1 :]))
            for i, width in enumerate(a.hidden)
            for step in _width_steps(width)
        ]
        if len(a.hidden) < MAX_DEPTH:
            out.append(replace(a, hidden=(*a.hidden, a.hidden[-1])))
        if len(a.hidden) > 1:
            out.append(replace(a, hidden=a.hidden[:-1]))
        out += [replace(a, activation=act) for act in ACTIVATIONS if act != a.activation]
        out += [replace(a, init=init) for init in INITS.names() if init != a.init]
        return [str(b) for b in out]

    def mutate(self, arch: str, rng: random.Random) -> str:
        return rng.choice(self.neighbours(arch))

    def arch_init(self, arch: str) -> str:
        """The init scheme ``arch`` carries, for harnesses that would otherwise re-initialise."""
        return parse_mlp(arch).init

    def build(
        self,
        arch: str,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        in_features: int | None = None,
        image_size: int = 32,
        **kwargs,
    ) -> nn.Module:
        """The MLP of ``arch``, initialised with the architecture's own init scheme.

        ``in_features`` is the input width (tabular data); without it, inputs are images of
        ``in_channels`` x ``image_size`` x ``image_size`` that the network flattens. Other
        keywords (size overrides meant for cell spaces) are ignored.
        """
        a = parse_mlp(arch)
        features = in_features if in_features is not None else in_channels * image_size**2
        if features < 1 or num_classes < 1:
            raise InvalidArchError("an MLP needs at least one input feature and one class")
        return apply_init(build_mlp(a, features, num_classes), a.init)
