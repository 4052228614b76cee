"""Channel-Bench-Macro (Su et al., "Searching for Network Width With Bilaterally Coupled
Network", TPAMI 2022; github.com/xiusu/Channel-Bench-Macro, networks in ``model.py``), CIFAR-10.

Two width spaces, chosen with the build keyword ``family`` (``channel_macro[family=resnet]``):
7 independent layer widths, each 1/4, 2/4, 3/4 or 4/4 of that layer's maximum, written as the
repository's 7-digit codes (digit ``d`` in 1-4 gives ``round(d * max / 4)`` channels), 4^7 =
16,384 networks per family.

* ``mobilenet`` (maxima 128, 768, 768, 768, 256, 1536, 1024): stem 3x3 Conv-BN-ReLU stride 2
  to ``c1``; inverted residuals (always with their 1x1 expansion, kernel 3)
  ``c1 -> c2 -> c1``, ``c1 -> c3 -> c1``, ``c1 -> c4 -> c5`` (stride 2), ``c5 -> c6 -> c5``;
  head 1x1 Conv-BN-ReLU to ``c7``, pool, linear.
* ``resnet`` (maxima 256, 256, 256, 512, 512, 512, 512): stem 3x3 Conv-BN-ReLU stride 2 to
  ``c1``; basic blocks ``c1 -> c2 -> c1``, ``c1 -> c3 -> c1`` (residual), ``c1 -> c4 -> c5``
  (stride 2, no shortcut), ``c5 -> c6 -> c5``, ``c5 -> c7 -> c5`` (residual), each followed by
  ReLU; pool, linear.

Every code is valid in both families, so parsing, sampling and mutation do not depend on the
family; only the network does. PyTorch default initialisation.

The repository's result files give exact ``params`` (every parameter) and ``flops`` (the
multiply-accumulates of convolutions and the classifier, its ``count_FLOPs``) for a 32x32 input
and 10 classes: this library's ``params`` and ``macs`` (convention ``"conv_linear"``;
``flops`` here is twice that). ``benchmarks/macro_check.py`` checks all 2 x 16,384 against a
copy of those files. Their accuracies are a held-out test: nothing here was tuned on them.
"""

from __future__ import annotations

from trainfree.errors import TrainfreeError
from trainfree.spaces import register_space
from trainfree.spaces.macro import (
    Basic,
    CodeSpace,
    Conv,
    Head,
    InvertedResidual,
    Plan,
    check_positive,
    network_builder,
    parse_code,
)

MAX_WIDTHS: dict[str, tuple[int, ...]] = {
    "mobilenet": (128, 768, 768, 768, 256, 1536, 1024),
    "resnet": (256, 256, 256, 512, 512, 512, 512),
}
FAMILIES: tuple[str, ...] = tuple(MAX_WIDTHS)
NUM_LAYERS = 7
DIGITS = "1234"
MEANING = "width d/4 of each layer's maximum"


def parse_arch(arch: str) -> tuple[int, ...]:
    """The 7 width digits (1-4) of ``arch``; raise :class:`InvalidArchError` if malformed."""
    return parse_code("channel_macro", arch, DIGITS, NUM_LAYERS, MEANING)


def widths(arch: str, family: str = "mobilenet", width_mult: float = 1.0) -> tuple[int, ...]:
    """The 7 channel numbers of ``arch`` in ``family`` (maxima scaled by ``width_mult``)."""
    if family not in MAX_WIDTHS:
        raise TrainfreeError(
            f"channel_macro family must be one of {', '.join(FAMILIES)}, got {family!r}"
        )
    check_positive("channel_macro", width_mult=width_mult)
    digits = parse_arch(arch)
    return tuple(
        max(1, round(d * m * width_mult / 4))
        for d, m in zip(digits, MAX_WIDTHS[family], strict=True)
    )


def plan(
    arch: str,
    *,
    num_classes: int = 10,
    in_channels: int = 3,
    family: str = "mobilenet",
    width_mult: float = 1.0,
) -> Plan:
    """The pieces of ``arch``'s network in ``family`` (``mobilenet`` or ``resnet``);
    ``width_mult`` scales every layer's maximum width (thin copies for tests)."""
    check_positive("channel_macro", num_classes=num_classes, in_channels=in_channels)
    c = widths(arch, family, width_mult)
    stem = Conv(in_channels, c[0], 3, 2)
    if family == "mobilenet":
        blocks: tuple = (
            InvertedResidual(c[0], c[1], c[0], 3, 1),
            InvertedResidual(c[0], c[2], c[0], 3, 1),
            InvertedResidual(c[0], c[3], c[4], 3, 2),
            InvertedResidual(c[4], c[5], c[4], 3, 1),
        )
        return Plan(stem, blocks, Head(c[4], c[6], num_classes))
    blocks = (
        Basic(c[0], c[1], c[0]),
        Basic(c[0], c[2], c[0]),
        Basic(c[0], c[3], c[4], 2, residual=False),
        Basic(c[4], c[5], c[4]),
        Basic(c[4], c[6], c[4]),
    )
    return Plan(stem, blocks, Head(c[4], 0, num_classes))


@register_space
class ChannelMacroSpace(CodeSpace):
    """Channel-Bench-Macro: 7 layer widths in {1/4..4/4}, MobileNet or ResNet (CIFAR-10)."""

    name = "channel_macro"
    digits = DIGITS
    length = NUM_LAYERS
    meaning = MEANING

    build = network_builder(plan)
    plan = staticmethod(plan)
