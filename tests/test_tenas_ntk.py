"""TE-NAS NTK specifics: the network it is computed on and the two exact Jacobian methods."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_proxies_seed import TinyResNet, image_batch, seeded

from trainfree.data import make_batch
from trainfree.data.batch import DataMode
from trainfree.errors import TrainfreeError
from trainfree.init import apply_init
from trainfree.proxies import get_proxy
from trainfree.proxies.functional import output_jacobian
from trainfree.proxies.tenas import tenas_ntk
from trainfree.run.scoring import ScoreConfig, score_arch
from trainfree.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"


def test_loop_and_vmap_jacobians_agree_with_coupled_batchnorm() -> None:
    model = seeded(TinyResNet)
    batch = image_batch()
    loop = output_jacobian(model, batch.inputs, params_filter="weight")
    vmapped = output_jacobian(model, batch.inputs, params_filter="weight", method="vmap")
    assert loop.shape == vmapped.shape == (len(batch), loop.shape[1])
    torch.testing.assert_close(loop, vmapped, rtol=1e-4, atol=1e-6)
    with pytest.raises(TrainfreeError, match="Jacobian method"):
        output_jacobian(model, batch.inputs, method="forward")


def test_tenas_ntk_is_scored_on_the_official_c3_n1_network() -> None:
    """TE-NAS computes κ on NB201 at C=3, N=1 (prune_tenas.py model_config), not at C=16, N=5."""
    assert dict(get_proxy("tenas_ntk").build_overrides) == {"C": 3, "N": 1}
    config = ScoreConfig(dataset="synthetic", batch_size=8, repeats=1, seed=5)
    contiguous = dataclasses.replace(config, memory_format="contiguous")
    scored = score_arch(get_space("nb201"), ARCH, "tenas_ntk", contiguous).value

    batch = make_batch("synthetic", batch_size=8, seed=5, mode=DataMode.INPUTS)
    torch.manual_seed(5)
    small = get_space("nb201").build(ARCH, num_classes=batch.num_classes, C=3, N=1)
    apply_init(small, "kaiming_normal_fan_out").train()
    assert scored == pytest.approx(tenas_ntk(small, batch), rel=1e-9)
    # channels-last (the default) changes only rounding
    fast = score_arch(get_space("nb201"), ARCH, "tenas_ntk", config).value
    assert fast == pytest.approx(scored, rel=1e-4)
    assert sum(p.numel() for p in small.parameters()) < 20_000  # not the 1.5M-parameter network
