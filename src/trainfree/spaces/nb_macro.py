"""NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree Search",
CVPR 2021; github.com/xiusu/NAS-Bench-Macro, network in ``train/model.py``), CIFAR-10.

8 searchable layers in 3 stages of 2, 3 and 3 layers; each layer is one of

* ``0``: identity (the first layer of a stage, which halves the resolution and doubles the
  width, becomes a strided 1x1 Conv-BN there),
* ``1``: MobileNetV2 inverted residual, kernel 3, expansion 3,
* ``2``: MobileNetV2 inverted residual, kernel 5, expansion 6,

so architectures are 8-digit codes (``"02012100"``), 3^8 = 6,561 of them. Fixed skeleton: stem
3x3 Conv-BN-ReLU to 32 channels at full resolution; stage widths 64, 128, 256, each starting with
stride 2; head 1x1 Conv-BN-ReLU to 1280, global average pool, linear. ReLU everywhere, no
squeeze-and-excitation, PyTorch default initialisation.

The benchmark trained one network per *distinct* network: within a stage, identity layers after
the first are moved to the stage's end (``get_real_arch`` of the reference; the same function,
since such identities change neither width nor resolution), and every code of the table
carries its moved form's results. :func:`real_arch` gives that form; the codes stay distinct
architectures here, as in the table.

``params`` and ``flops`` of the table are exact counts for a 32x32 input and 10 classes: every
parameter, and the multiply-accumulates of convolutions and the classifier (the reference's
``count_FLOPs``), i.e. this library's ``macs`` (:mod:`trainfree.complexity`, convention
``"conv_linear"``); its ``flops`` are twice that. Both match all 6,561 entries
(``benchmarks/macro_check.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from trainfree.spaces import register_space
from trainfree.spaces.macro import (
    CodeSpace,
    Conv,
    Head,
    InvertedResidual,
    Plan,
    Skip,
    check_positive,
    network_builder,
    parse_code,
)

#: Op code -> (kernel, expansion) of the inverted residual; ``None`` for the identity.
OPS: tuple[tuple[int, int] | None, ...] = (None, (3, 3), (5, 6))
STAGES: tuple[int, ...] = (2, 3, 3)
NUM_LAYERS = sum(STAGES)
DIGITS = "012"
MEANING = "0 identity, 1 MB k3 e3, 2 MB k5 e6"


def parse_arch(arch: str) -> tuple[int, ...]:
    """The 8 op codes of ``arch``; raise :class:`InvalidArchError` (one line) if malformed."""
    return parse_code("nb_macro", arch, DIGITS, NUM_LAYERS, MEANING)


def real_arch(arch: str) -> str:
    """The benchmark's form of ``arch``: in each stage, the identities after the first layer
    moved to the end (the same network; the reference's ``get_real_arch``)."""
    ops, out, start = parse_arch(arch), [], 0
    for length in STAGES:
        first, rest = ops[start], ops[start + 1 : start + length]
        out += [first, *(op for op in rest if op), *(op for op in rest if not op)]
        start += length
    return "".join(map(str, out))


def plan(
    arch: str,
    *,
    num_classes: int = 10,
    in_channels: int = 3,
    init_channels: int = 32,
    head_channels: int = 1280,
) -> Plan:
    """The pieces of ``arch``'s network (defaults: the benchmark's widths); ``init_channels``
    (the stem's width; the stages have 2x, 4x and 8x) and ``head_channels`` make thin copies."""
    check_positive(
        "nb_macro",
        num_classes=num_classes,
        in_channels=in_channels,
        init_channels=init_channels,
        head_channels=head_channels,
    )
    ops = iter(parse_arch(arch))
    channels = init_channels
    layers = []
    for length in STAGES:
        for index in range(length):
            c_in, stride = channels, 2 if index == 0 else 1
            channels = 2 * c_in if index == 0 else c_in
            op = OPS[next(ops)]
            if op is None:
                layers.append(Skip(c_in, channels, stride))
            else:
                kernel, expansion = op
                layers.append(InvertedResidual(c_in, c_in * expansion, channels, kernel, stride))
    stem = Conv(in_channels, init_channels, 3)
    return Plan(stem, tuple(layers), Head(channels, head_channels, num_classes))


@register_space
class NBMacroSpace(CodeSpace):
    """NAS-Bench-Macro: 8 layers of identity / MBv2 k3e3 / MBv2 k5e6 (CIFAR-10)."""

    name = "nb_macro"
    #: NAS-Bench-Macro's CIFAR-10 accuracy (mean of 3 runs), whatever data the proxies see.
    benchmarks: ClassVar[Mapping[str, tuple[str, str]]] = {
        "*": ("macro/nas-bench-macro_cifar10.json", "mean_acc")
    }
    digits = DIGITS
    length = NUM_LAYERS
    meaning = MEANING

    build = network_builder(plan)
    plan = staticmethod(plan)
