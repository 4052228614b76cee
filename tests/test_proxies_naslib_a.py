"""NAS-Bench-Suite-Zero proxies (params, flops, synflow, naswot, snip, grad_norm, jacov, l2_norm,
plain): known answers on tiny networks, invariances, degenerate networks, metadata."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainfree.data.batch import Batch, DataMode
from trainfree.errors import TrainfreeError
from trainfree.proxies import compute_proxy, get_proxy
from trainfree.proxies.jacov import correlation_score
from trainfree.proxies.synflow import LOG_ZERO

NAMES = ("params", "flops", "synflow", "naswot", "snip", "grad_norm", "jacov", "l2_norm", "plain")
EXPECTED_MODES = {
    "params": DataMode.FREE,
    "flops": DataMode.FREE,
    "l2_norm": DataMode.FREE,
    "synflow": DataMode.ONES,
    "naswot": DataMode.INPUTS,
    "jacov": DataMode.INPUTS,
    "snip": DataMode.LABELLED,
    "grad_norm": DataMode.LABELLED,
    "plain": DataMode.LABELLED,
}


def conv_net(num_classes: int = 5) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, num_classes),
    )


def mlp(num_classes: int = 5) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, num_classes))


class InputIgnoringNet(nn.Module):
    """Output independent of the input and of every conv/linear weight (an all-``none`` cell)."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stem(x).mul(0.0).mean(dim=(2, 3))
        return self.head(features)


def image_batch(n: int = 8, seed: int = 0, size: int = 6, num_classes: int = 5) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, size, size, generator=gen)
    return Batch(inputs, torch.arange(n) % num_classes, num_classes)


def flat_batch(n: int = 8, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 3, 2, 2, generator=gen), torch.arange(n) % 5, 5)


def run(name: str, model: nn.Module, batch: Batch, **params) -> float:
    spec = get_proxy(name)
    return compute_proxy(spec, model.to(spec.dtype), batch.to("cpu", spec.dtype), **params)


def seeded(factory, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return factory()


def manual_grads(model: nn.Module, batch: Batch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, grad) of every conv/linear layer via a plain ``.backward()`` on a copy."""
    net = copy.deepcopy(model).train()
    F.cross_entropy(net(batch.inputs), batch.targets).backward()
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    return [(m.weight.detach(), m.weight.grad) for m in layers]


# --- metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name: str) -> None:
    spec = get_proxy(name)
    assert spec.higher_is_better is True
    assert spec.data_mode is EXPECTED_MODES[name]
    assert spec.paper
    assert spec.default_init == "default"
    if spec.data_mode in (DataMode.LABELLED, DataMode.INPUTS):
        assert spec.batch_size == 32  # NASLib's zero-cost benchmark batch size
    assert spec.dtype is (torch.float64 if name == "synflow" else torch.float32)


# --- known answers ---------------------------------------------------------------------------


def test_params_of_linear_layer() -> None:
    assert run("params", nn.Linear(3, 2), Batch(torch.ones(1, 3), torch.zeros(1), 2)) == 8.0
    frozen = nn.Linear(3, 2)
    frozen.bias.requires_grad_(False)
    assert run("params", frozen, Batch(torch.ones(1, 3), torch.zeros(1), 2)) == 6.0


def test_flops_of_linear_and_conv() -> None:
    batch = Batch(torch.ones(4, 3), torch.zeros(4), 2)
    assert run("flops", nn.Linear(3, 2), batch) == 2 * 3 * 2  # one image, one MAC = 2 FLOPs
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    assert run("flops", conv, image_batch(size=5)) == 2 * (3 * 9) * 4 * 25


def test_l2_norm_sums_layer_norms() -> None:
    model = mlp()
    with torch.no_grad():
        model[1].weight.fill_(1.0)  # 8 x 12 -> norm sqrt(96)
        model[3].weight.fill_(-2.0)  # 5 x 8 -> norm 2 sqrt(40)
    expected = math.sqrt(96) + 2 * math.sqrt(40)
    assert run("l2_norm", model, flat_batch()) == pytest.approx(expected, rel=1e-6)


def test_synflow_of_linear_chain_by_hand() -> None:
    model = nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    w1 = torch.tensor([[1.0, -2.0, 0.5], [-1.0, 3.0, 2.0]])
    w2 = torch.tensor([[-0.5, 2.0]])
    with torch.no_grad():
        model[0].weight.copy_(w1)
        model[2].weight.copy_(w2)
    # R = Σ_j |w2_j| Σ_i |w1_ji|; both layers' Σ|θ dR/dθ| equal R, so synflow = 2R.
    r = float((w2.abs() @ w1.abs().sum(dim=1, keepdim=True)).sum())
    batch = Batch(torch.ones(1, 3), torch.zeros(1, dtype=torch.long), 1)
    assert run("synflow", model, batch) == pytest.approx(math.log(2 * r), rel=1e-12)
    assert torch.equal(model[0].weight, w1.double())  # signs of the caller's model kept
    assert model[0].weight.grad is None


def test_synflow_removes_batchnorm() -> None:
    def chain(bn: bool) -> nn.Module:
        torch.manual_seed(0)
        layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
        if bn:
            layers.insert(1, nn.BatchNorm1d(4))
        return nn.Sequential(*layers)

    with_bn = chain(True)
    with torch.no_grad():
        with_bn[1].weight.fill_(-7.0)
        with_bn[1].running_var.fill_(0.01)
    batch = Batch(torch.ones(1, 3), torch.zeros(1, dtype=torch.long), 2)
    assert run("synflow", with_bn, batch) == pytest.approx(run("synflow", chain(False), batch))
    assert isinstance(with_bn[1], nn.BatchNorm1d)


def test_synflow_huge_network_stays_finite() -> None:
    torch.manual_seed(0)
    layers = [nn.Linear(16, 16, bias=False) for _ in range(150)]
    for layer in layers:
        nn.init.constant_(layer.weight, 3.0)  # each layer multiplies the flow by 48
    model = nn.Sequential(*layers)
    batch = Batch(torch.ones(1, 16), torch.zeros(1, dtype=torch.long), 16)
    value = run("synflow", model, batch)  # raw synflow ≈ 48^150 ≈ 1e252: its log is reported
    assert 150 * math.log(48) < value < 150 * math.log(48) + 20


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


def test_naswot_matches_hand_kernel() -> None:
    model = nn.Sequential(nn.Flatten(), nn.ReLU(), nn.Linear(12, 3), nn.ReLU())
    batch = flat_batch(6, seed=3)
    with torch.no_grad():
        pre = [batch.inputs.flatten(1), model[2](batch.inputs.flatten(1).relu())]
    kernel = np.zeros((6, 6))
    for x in pre:
        c = (x > 0).double().numpy()
        kernel += c @ c.T + (1 - c) @ (1 - c).T
    assert run("naswot", model, batch) == pytest.approx(np.linalg.slogdet(kernel)[1])


def test_naswot_identical_inputs_give_the_minimum() -> None:
    model = seeded(conv_net)
    same = Batch(image_batch(1).inputs.expand(8, -1, -1, -1).clone(), torch.zeros(8).long(), 5)
    floor = run("naswot", model, same)
    assert floor == 0.0
    assert run("naswot", model, same, singular_score=-3.0) == -3.0
    assert run("naswot", model, image_batch(8)) > floor


def test_naswot_refuses_a_model_without_relu() -> None:
    with pytest.raises(TrainfreeError, match="ReLU"):
        run("naswot", nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Tanh()), flat_batch())


def test_jacov_invariances() -> None:
    model, batch = seeded(conv_net), image_batch()
    base = run("jacov", model, batch)
    scaled = nn.Sequential(model, nn.Linear(5, 5, bias=False))
    with torch.no_grad():
        scaled[1].weight.copy_(3.0 * torch.eye(5))
    assert run("jacov", scaled, batch) == pytest.approx(base, rel=1e-5)
    perm = torch.randperm(len(batch), generator=torch.Generator().manual_seed(1))
    permuted = Batch(batch.inputs[perm], batch.targets[perm], batch.num_classes)
    assert run("jacov", model, permuted) == pytest.approx(base, rel=1e-5)
    assert -1e6 < base <= -len(batch) + 1e-6  # the maximum −N: uncorrelated Jacobian rows


def test_jacov_identical_rows_and_zero_jacobian_share_the_infimum() -> None:
    n, k = 8, 1e-5
    infimum = -(math.log(n + k) + 1 / (n + k)) - (n - 1) * (math.log(k) + 1 / k)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(12, 5)).eval()  # J rows all Σ_k W_k
    assert run("jacov", linear, flat_batch(n)) == pytest.approx(infimum, rel=1e-6)
    assert run("jacov", seeded(InputIgnoringNet), image_batch(n)) == pytest.approx(infimum)
    assert correlation_score(torch.randn(n, 50)) > infimum


# --- degenerate networks, determinism, no leaks ------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_finite_on_input_ignoring_network(name: str) -> None:
    batch = (
        image_batch(8) if name != "synflow" else Batch(torch.ones(1, 3, 6, 6), torch.zeros(1), 5)
    )
    assert math.isfinite(run(name, seeded(InputIgnoringNet), batch))
    if name == "synflow":
        assert run(name, seeded(InputIgnoringNet), batch) == LOG_ZERO


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("factory", [conv_net, mlp])
def test_deterministic_and_leaves_weights(name: str, factory) -> None:
    batch = image_batch(8, size=2) if factory is mlp else image_batch(8)
    model = seeded(factory)
    before = {k: v.clone() for k, v in model.named_parameters()}
    first = run(name, model, batch)
    assert run(name, seeded(factory), batch) == first
    for key, value in model.named_parameters():
        assert torch.equal(value.float(), before[key]), key
        assert value.grad is None


def test_nb201_all_none_and_regular_cells() -> None:
    spaces = pytest.importorskip("trainfree.spaces")
    if "nb201" not in spaces.SPACES:
        pytest.skip("nb201 space not available")
    space = spaces.get_space("nb201")
    archs = [
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|none~2|",
    ]
    ones_batch = Batch(torch.ones(1, 3, 8, 8), torch.zeros(1).long(), 10)
    values = {}
    for arch in archs:
        for name in NAMES:
            ones = get_proxy(name).data_mode is DataMode.ONES
            batch = ones_batch if ones else image_batch(8, size=8, num_classes=10)
            model = seeded(lambda a=arch: space.build(a, num_classes=10, C=4, N=1))
            values[arch, name] = run(name, model, batch)
            assert math.isfinite(values[arch, name])
    for name in ("params", "flops", "synflow", "naswot", "jacov"):
        assert values[archs[1], name] > values[archs[0], name], name
