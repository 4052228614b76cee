"""The public API at the package root, and the ``model:package.module:factory`` space."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import trainfree
from trainfree.proxies import PROXIES, get_proxy
from trainfree.run.executors import ProcessExecutor
from trainfree.run.runner import resolve_proxies, score_many
from trainfree.run.scoring import ScoreConfig, score_arch
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space
from trainfree.spaces.model import ModelSpace

THIN = "nb201[C=4,N=1]"
FAST = {"batch_size": 8, "repeats": 1}


def mlp(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.ReLU(), nn.Linear(16, num_classes))


def images(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 4, 4, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.fixture
def model_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user's module ``usernets`` in a folder that is the working directory but not on the
    path: ``net()`` builds one network, ``wide(arch)`` one per arch string (a width)."""
    (tmp_path / "usernets.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            def net(num_classes=10):
                return nn.Sequential(nn.Flatten(), nn.Linear(48, 8), nn.ReLU(),
                                     nn.Linear(8, num_classes))

            def wide(arch, num_classes=10):
                width = int(arch)
                return nn.Sequential(nn.Flatten(), nn.Linear(48, width), nn.ReLU(),
                                     nn.Linear(width, num_classes))
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "usernets", raising=False)
    return "usernets"


def test_nb201_factory_matches_score_arch() -> None:
    space = get_space(THIN)
    arch = space.sample(1, seed=4)[0]
    proxies = ["near", "meco", "synflow", "zen", "tenas_ntk"]
    config = ScoreConfig(dataset="synthetic", **FAST)
    expected = {p: score_arch(space, arch, p, config).value for p in proxies}
    # space.build takes the arch string and the keywords TE-NAS re-builds with
    assert trainfree.score(space.build, "synthetic", proxies, arch=arch, **FAST) == expected
    one = trainfree.score(lambda: space.build(arch), "synthetic", proxies[:4], **FAST)
    assert one == {p: expected[p] for p in proxies[:4]}


def test_data_loader_takes_the_first_batches_needed() -> None:
    x, y = images(12)
    loader = DataLoader(TensorDataset(x, y), batch_size=3)
    from_loader = trainfree.score(mlp, loader, ["near", "snip"], batch_size=8, num_classes=10)
    from_pair = trainfree.score(mlp, (x[:8], y[:8]), ["near", "snip"], batch_size=8, num_classes=10)
    assert from_loader == from_pair
    assert from_pair != trainfree.score(
        mlp, (x[4:], y[4:]), ["near", "snip"], batch_size=8, num_classes=10
    )


def test_inputs_alone_serve_proxies_without_labels_only() -> None:
    x, _ = images(8)
    assert set(trainfree.score(mlp, x, ["naswot", "synflow"], batch_size=8)) == {
        "naswot",
        "synflow",
    }
    with pytest.raises(trainfree.TrainfreeError, match=r"^proxy 'snip' needs labelled data"):
        trainfree.score(mlp, x, ["snip"], batch_size=8)


def test_user_data_errors_are_one_line() -> None:
    x, y = images(4)
    cases = [
        ((x, y), {"proxies": ["near"]}, "feeds on 128 samples, the data has 4"),
        ((x, y[:2]), {"proxies": ["near"]}, r"labels must have shape \(4,\)"),
        ((42,), {"proxies": ["near"]}, "data must be a dataset name"),
        (("no-such-set",), {"proxies": ["near"]}, "unknown dataset"),
        ((x,), {"proxies": ["nope"]}, "unknown proxy 'nope'"),
        ((x,), {"proxies": []}, "no proxy given"),
    ]
    for args, kwargs, message in cases:
        data = args[0] if len(args) == 1 else args
        with pytest.raises(trainfree.TrainfreeError, match=message) as info:
            trainfree.score(mlp, data, **kwargs)
        assert "\n" not in str(info.value)


def test_arch_taking_factory_needs_an_arch() -> None:
    with pytest.raises(trainfree.TrainfreeError, match="pass arch="):
        trainfree.score(get_space(THIN).build, "synthetic", ["synflow"])


def test_all_expands_to_every_proxy() -> None:
    from trainfree.api import _proxy_names

    assert _proxy_names("all") == PROXIES.names()
    assert _proxy_names("synflow, near,synflow") == ["synflow", "near"]


def test_listings_mirror_the_registries() -> None:
    proxies = trainfree.list_proxies()
    assert [row["name"] for row in proxies] == PROXIES.names()
    near = next(row for row in proxies if row["name"] == "near")
    assert near == get_proxy("near").describe()
    assert {"higher_is_better", "data_mode", "paper", "options"} <= set(near)
    spaces = {row["name"]: row for row in trainfree.list_spaces()}
    assert spaces["nb201"]["size"] == 15625
    assert trainfree.space("nb201").name == "nb201"


def test_correlate_sequences_frames_and_direction() -> None:
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.5, 0.95, size=40)
    good = acc + rng.normal(scale=0.1, size=40)
    plain = trainfree.correlate(list(good), list(acc), n_boot=50)
    assert plain["n"] == 40 and plain["spearman"] > 0.5
    low, high = plain["spearman_ci"]
    assert low <= plain["spearman"] <= high
    frame = pd.DataFrame({"synflow": good, "tenas_ntk": good}, index=[f"a{i}" for i in range(40)])
    truth = pd.Series(acc, index=frame.index).sample(frac=1.0, random_state=1)  # shuffled
    both = trainfree.correlate(frame, truth, n_boot=0)
    assert both["synflow"]["spearman"] == pytest.approx(plain["spearman"])
    # tenas_ntk is lower-is-better: its scores are negated
    assert both["tenas_ntk"]["spearman"] == pytest.approx(-plain["spearman"])
    series = trainfree.correlate(frame["synflow"], truth, n_boot=0)
    assert series["kendall"] == pytest.approx(both["synflow"]["kendall"])
    with pytest.raises(trainfree.TrainfreeError, match="differ in length"):
        trainfree.correlate([1.0, 2.0, 3.0], [1.0, 2.0])


def test_search_arch_runs_a_registered_search() -> None:
    result = trainfree.search_arch(THIN, "random", proxy="params", budget=3, seed=1)
    assert result.evaluations == 3
    assert result.arch in {arch for arch, _ in result.history}
    assert result.fitness == max(f for _, f in result.history)
    with pytest.raises(trainfree.TrainfreeError):
        trainfree.search_arch(THIN, "random", budget=3)


def test_root_exports_errors_and_imports_lazily() -> None:
    assert issubclass(trainfree.InvalidArchError, trainfree.TrainfreeError)
    assert issubclass(trainfree.NonFiniteScoreError, trainfree.TrainfreeError)
    assert set(trainfree.__all__) <= set(dir(trainfree))
    code = "import sys, trainfree; print('torch' in sys.modules, trainfree.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"


def test_model_reference_resolves_from_the_working_directory(model_module: str) -> None:
    space = get_space(f"model:{model_module}:net")
    assert isinstance(space, ModelSpace) and space.name == f"model:{model_module}:net"
    assert space.sample(1) == ["default"] and space.size() == 1
    assert space.build("default", num_classes=3)[-1].out_features == 3
    with pytest.raises(trainfree.InvalidArchError):
        space.canonical("other")
    wide = get_space(f"model:{model_module}:wide")
    assert wide.size() is None and wide.canonical(" 5 ") == "5"
    assert wide.build("5")[1].out_features == 5
    with pytest.raises(trainfree.TrainfreeError, match="list them explicitly"):
        wide.sample(2)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("model:nodots", "must look like package.module:factory"),
        ("model:no_such_module_xyz:net", "cannot import model module"),
        ("model:usernets:missing", "has no attribute 'missing'"),
    ],
)
def test_bad_model_references(model_module: str, reference: str, message: str) -> None:
    with pytest.raises(trainfree.TrainfreeError, match=message):
        get_space(reference)


def test_factory_keywords_are_checked() -> None:
    space = ModelSpace(mlp)
    assert space.build("default", in_features=7)[-1].out_features == 10  # data keyword dropped
    with pytest.raises(trainfree.TrainfreeError, match=r"takes no keyword 'C' .*C=3"):
        space.build("default", C=3, N=1)
    sized = ModelSpace(lambda **kw: nn.Linear(kw.get("C", 2), 1))
    assert sized.build("default", C=5).in_features == 5
    with pytest.raises(trainfree.TrainfreeError, match=r"not a torch\.nn\.Module"):
        ModelSpace(lambda: 3).build("default")


def test_runner_scores_a_model_space_in_workers(model_module: str, tmp_path: Path) -> None:
    """The store and the process executor work for a user's factory named by reference."""
    name = f"model:{model_module}:wide"
    config = ScoreConfig(dataset="synthetic", image_size=4, **FAST)
    proxies = resolve_proxies("synflow,naswot")
    store = ResultStore(tmp_path / "scores.sqlite")
    try:
        report = score_many(
            name, ["4", "6"], proxies, config, store=store, executor=ProcessExecutor(2)
        )
        assert not report.failures
        again = score_many(name, ["4", "6"], proxies, config, store=store)
    finally:
        store.close()
    space = get_space(name)
    for arch in ("4", "6"):
        expected = score_arch(space, arch, "naswot", config).value
        assert report.values("naswot", [arch])[0] == expected
        assert again.values("naswot", [arch])[0] == expected
