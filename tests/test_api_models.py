"""``trainfree.score`` on a researcher's own networks: a ResNet-18-style CNN and a small ViT,
defined here (no torchvision), against the internal scoring path."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import trainfree
from trainfree.data import make_batch
from trainfree.proxies import PROXIES, get_proxy
from trainfree.run.scoring import ScoreConfig, score_arch
from trainfree.spaces import get_space

BATCH = 8  # one batch size for every proxy keeps the test fast
SIZE = 16


class BasicBlock(nn.Module):
    """ResNet's two-convolution residual block (He et al., CVPR 2016)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-18's layout (4 stages of 2 basic blocks) for small images, ``width`` stem channels."""

    def __init__(self, width: int = 4, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        blocks, cin = [], width
        for stage in range(4):
            cout = width * 2**stage
            for index in range(2):
                blocks.append(BasicBlock(cin, cout, 2 if stage and not index else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


class ViT(nn.Module):
    """A small vision transformer (Dosovitskiy et al., ICLR 2021): patch embedding, class
    token, pre-norm encoder blocks with GELU, linear head."""

    def __init__(self, dim: int = 16, depth: int = 2, patch: int = 4, num_classes: int = 10):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, (SIZE // patch) ** 2 + 1, dim))
        layer = nn.TransformerEncoderLayer(
            dim, 2, 2 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(len(x), -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.encoder(x))[:, 0])


def resnet(num_classes: int = 10) -> ResNet:
    return ResNet(num_classes=num_classes)


def generic_proxies() -> list[str]:
    """Proxies that score the network as given (no re-built copy of other sizes)."""
    return [name for name in PROXIES.names() if not get_proxy(name).build_overrides]


def internal(space_name: str, proxy: str, **settings) -> float:
    """The command line's path: the space of the factory, ``score_arch``."""
    config = ScoreConfig(dataset="synthetic", image_size=SIZE, **settings)
    return score_arch(get_space(space_name), "default", proxy, config).value


@pytest.mark.parametrize("proxy", generic_proxies())
def test_resnet_scores_equal_internal_path(proxy: str) -> None:
    """A factory fed the command line's batch as data of its own gives the command line's value
    (``score_arch`` on the space ``model:module:factory``)."""
    spec = get_proxy(proxy)
    own = make_batch("synthetic", batch_size=BATCH, seed=0, mode=spec.data_mode, image_size=SIZE)
    settings = {"batch_size": BATCH, "repeats": 1}
    scores = trainfree.score(resnet, (own.inputs, own.targets), [proxy], num_classes=10, **settings)
    assert scores == {proxy: internal(f"model:{__name__}:resnet", proxy, **settings)}


def test_dataset_name_gives_the_command_line_values() -> None:
    proxies = ["near", "zen", "synflow"]
    settings = {"batch_size": BATCH, "repeats": 2, "seed": 3}
    scores = trainfree.score(resnet, "synthetic", proxies, image_size=SIZE, **settings)
    assert scores == {p: internal(f"model:{__name__}:resnet", p, **settings) for p in proxies}


def test_module_scores_as_a_factory_of_its_copies() -> None:
    """A module is re-initialised copy by copy: the factory ``lambda: deepcopy(net)``."""
    net = ResNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    proxies = ["synflow", "snip", "naswot"]
    scores = trainfree.score(net, "synthetic", proxies, image_size=SIZE, batch_size=BATCH)
    copies = trainfree.score(
        lambda: copy.deepcopy(net), "synthetic", proxies, image_size=SIZE, batch_size=BATCH
    )
    assert scores == copies
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_module_cannot_serve_a_rebuilding_proxy() -> None:
    net = ResNet()
    with pytest.raises(trainfree.TrainfreeError) as info:
        trainfree.score(net, "synthetic", ["tenas_ntk"])
    message = str(info.value)
    assert "\n" not in message
    assert "tenas_ntk" in message and "factory" in message


def test_factory_without_size_keywords_names_the_missing_one() -> None:
    with pytest.raises(trainfree.TrainfreeError, match=r"^proxy 'tenas_lr' .*no keyword") as info:
        trainfree.score(resnet, "synthetic", ["tenas_lr"], batch_size=BATCH)
    assert "\n" not in str(info.value)


def test_vit_without_relu_gets_one_line_for_naswot() -> None:
    with pytest.raises(trainfree.TrainfreeError, match=r"^proxy 'naswot' .*ReLU") as info:
        trainfree.score(ViT(), "synthetic", ["naswot"], image_size=SIZE, batch_size=BATCH)
    assert "\n" not in str(info.value)


def test_vit_scores_with_activation_free_proxies() -> None:
    scores = trainfree.score(
        ViT(), "synthetic", ["near", "snip", "synflow"], image_size=SIZE, batch_size=BATCH
    )
    assert set(scores) == {"near", "snip", "synflow"}
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values())
