"""The MLP space, tabular datasets, NEAR layer sizing / activation choice and ``trainfree mlp``."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from trainfree.errors import TrainfreeError
from trainfree.init import INITS
from trainfree.sizing import (
    estimate_layer_size,
    fit_relative_scores,
    power_curve,
    rank_activation_init,
    solve_width,
)
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.mlp import ACTIVATIONS, WIDTHS, parse_mlp
from trainfree.tabular import load_tabular, tabular_batch


@pytest.fixture(scope="module")
def space():
    return get_space("mlp")


@pytest.fixture(scope="module")
def wine():
    return load_tabular("wine", seed=0)


# ----------------------------------------------------------------------------- space


def test_canonical_form_roundtrip(space):
    assert space.canonical(" MLP:64-32 | ReLU | Kaiming_Normal_Fan_In ") == (
        "mlp:64-32|relu|kaiming_normal_fan_in"
    )
    assert space.canonical("7|tanh|default") == "mlp:7|tanh|default"
    for arch in space.sample(30, seed=1):
        assert space.canonical(arch) == arch
    assert space.size() is None


@pytest.mark.parametrize(
    "bad",
    ["", "mlp:64|relu", "mlp:|relu|default", "mlp:64-x|relu|default", "mlp:0|relu|default",
     "mlp:64|swish2|default", "mlp:64|relu|he", "mlp:64|relu|default|extra", 64],
)  # fmt: skip
def test_invalid_architectures_are_refused(space, bad):
    with pytest.raises(InvalidArchError):
        space.canonical(bad)


def test_sample_is_seeded_distinct_and_in_range(space):
    archs = space.sample(50, seed=4)
    assert archs == space.sample(50, seed=4) and len(set(archs)) == 50
    for a in map(parse_mlp, archs):
        assert 1 <= len(a.hidden) <= 4 and set(a.hidden) <= set(WIDTHS)


def _difference(a: str, b: str) -> int:
    """How many of (depth, each width, activation, init) differ."""
    x, y = parse_mlp(a), parse_mlp(b)
    if len(x.hidden) != len(y.hidden):
        return 1 + (x.activation != y.activation) + (x.init != y.init)
    widths = sum(p != q for p, q in zip(x.hidden, y.hidden, strict=True))
    return widths + (x.activation != y.activation) + (x.init != y.init)


def test_neighbours_and_mutate_change_one_thing_by_one_step(space):
    arch = "mlp:8-100-512|gelu|xavier_normal"
    nbrs = space.neighbours(arch)
    assert arch not in nbrs and len(set(nbrs)) == len(nbrs)
    assert all(_difference(arch, b) == 1 for b in nbrs)
    widths = {parse_mlp(b).hidden for b in nbrs}
    assert (16, 100, 512) in widths and (8, 64, 512) in widths and (8, 128, 512) in widths
    assert (8, 100, 256) in widths and (8, 100) in widths and (8, 100, 512, 512) in widths
    assert len(nbrs) == (1 + 2 + 1) + 2 + (len(ACTIVATIONS) - 1) + (len(INITS) - 1)
    rng = random.Random(0)
    for _ in range(20):
        assert space.mutate(arch, rng) in nbrs


def test_build_shapes_for_tabular_and_image_inputs(space):
    model = space.build("mlp:16-8|silu|default", num_classes=3, in_features=13)
    assert model(torch.randn(5, 13)).shape == (5, 3)
    image_model = space.build("mlp:16|tanh|default", num_classes=4, in_channels=2, image_size=8)
    assert image_model(torch.randn(5, 2, 8, 8)).shape == (5, 4)
    assert [type(m).__name__ for m in model] == [
        "Flatten", "Linear", "SiLU", "Linear", "SiLU", "Linear"
    ]  # fmt: skip


def test_build_applies_the_architectures_own_init(space):
    torch.manual_seed(0)
    model = space.build("mlp:512-256|relu|kaiming_normal_fan_in", in_features=1000)
    assert model.fc0.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert model.fc1.weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    assert torch.count_nonzero(model.fc0.bias) == 0
    assert space.arch_init("mlp:8|relu|Orthogonal") == "orthogonal"
    torch.manual_seed(0)
    default = space.build("mlp:512|relu|default", in_features=1000)
    bound = 1 / math.sqrt(1000)  # PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert default.fc0.weight.abs().max().item() <= bound and default.fc0.bias.abs().sum() > 0
    torch.manual_seed(0)
    again = space.build("mlp:512|relu|default", in_features=1000)
    assert torch.equal(default.fc0.weight, again.fc0.weight)


# ----------------------------------------------------------------------------- tabular


@pytest.mark.parametrize(
    ("name", "rows", "features", "classes"),
    [("digits", 1797, 64, 10), ("breast_cancer", 569, 30, 2), ("wine", 178, 13, 3)],
)
def test_sklearn_datasets_split_and_standardise(name, rows, features, classes):
    data = load_tabular(name, seed=1)
    assert len(data.y_train) + len(data.y_test) == rows
    assert len(data.y_test) == math.ceil(0.25 * rows)
    assert data.num_features == features == len(data.feature_names)
    assert data.num_classes == classes == int(data.y_train.max()) + 1
    std = data.x_train.std(dim=0, unbiased=False)
    varying = std > 0
    assert torch.allclose(data.x_train.mean(dim=0), torch.zeros(features), atol=1e-5)
    assert torch.allclose(std[varying], torch.ones(int(varying.sum())), atol=1e-4)
    train_share = torch.bincount(data.y_train, minlength=classes) / len(data.y_train)
    test_share = torch.bincount(data.y_test, minlength=classes) / len(data.y_test)
    assert torch.allclose(train_share, test_share, atol=0.03)  # stratified


def test_split_is_seeded(wine):
    assert torch.equal(load_tabular("wine", seed=0).x_test, wine.x_test)
    assert not torch.equal(load_tabular("wine", seed=1).x_test, wine.x_test)


def test_csv_with_string_label_and_target_column(tmp_path):
    path = tmp_path / "toy.csv"
    rows = [f"{i},{(i * 7) % 5},{['cat', 'dog', 'emu'][i % 3]},{i % 2}" for i in range(30)]
    path.write_text("a,b,animal,flag\n" + "\n".join(rows) + "\n")
    data = load_tabular(str(path), target="animal", test_fraction=0.2)
    assert data.num_classes == 3 and data.feature_names == ("a", "b", "flag")
    assert len(data.y_train) == 24 and len(data.y_test) == 6
    assert set(data.y_test.tolist()) == {0, 1, 2}
    with pytest.raises(TrainfreeError, match="'animal' is not numeric"):
        load_tabular(str(path))  # last column 'flag' is the label, 'animal' a text feature


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("only\n1\n2\n", "at least two columns"),
        ("a,y\n1,0.5\n2,1.25\n3,0.75\n4,2.5\n", "continuous"),
        ("a,y\n1,0\n,1\n3,0\n4,1\n", "missing values"),
        ("a,y\n1,0\n2,0\n3,0\n", "two classes"),
    ],
)
def test_bad_csv_files_raise_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TrainfreeError, match=message):
        load_tabular(str(path))


def test_unknown_dataset_and_missing_target(tmp_path, wine):
    with pytest.raises(TrainfreeError, match="unknown tabular dataset"):
        load_tabular("iris")
    (tmp_path / "t.csv").write_text("a,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n")
    with pytest.raises(TrainfreeError, match="no column 'label'"):
        load_tabular(str(tmp_path / "t.csv"), target="label")


def test_tabular_batch(wine):
    batch = tabular_batch(wine, 32, seed=3)
    assert batch.inputs.shape == (32, 13) and batch.num_classes == 3
    assert len({tuple(r) for r in batch.inputs.tolist()}) == 32  # distinct rows
    assert torch.equal(batch.inputs, tabular_batch(wine, 32, seed=3).inputs)
    everything = tabular_batch(wine, None, seed=0)
    assert sorted(everything.targets.tolist()) == sorted(wine.y_train.tolist())
    with pytest.raises(TrainfreeError):
        tabular_batch(wine, len(wine.y_train) + 1, seed=0)


# ----------------------------------------------------------------------------- curve fit

A, B, C = 0.08, 0.92, -0.7  # a + b = 1 so the prepended (1, 1) lies on the curve
WIDTHS_FIT = [10 * 2**i for i in range(8)]


def test_fit_recovers_a_known_power_law():
    scores = power_curve(np.array(WIDTHS_FIT, dtype=float), A, B, C)
    t = 0.01
    published = fit_relative_scores(WIDTHS_FIT, scores, threshold=t)
    assert (published.a, published.b, published.c) == pytest.approx((A, B, C), abs=1e-4)
    assert published.raw_width == pytest.approx(t ** (1 / (C - 1)), rel=1e-3)
    exact = fit_relative_scores(WIDTHS_FIT, scores, threshold=t, formula="exact")
    assert exact.raw_width == pytest.approx((t / abs(B * C)) ** (1 / (C - 1)), rel=1e-3)
    n, h = exact.raw_width, 1e-3  # the exact width is where the slope's magnitude equals t
    slope = (power_curve(n + h, A, B, C) - power_curve(n - h, A, B, C)) / (2 * h)
    assert -slope == pytest.approx(t, rel=1e-3)
    assert exact.width == round(exact.raw_width)


def test_fit_refuses_curves_that_do_not_flatten():
    rising = power_curve(np.array(WIDTHS_FIT, dtype=float), 0.5, 0.5, 0.3)
    with pytest.raises(TrainfreeError, match="does not flatten"):
        fit_relative_scores(WIDTHS_FIT, rising)
    with pytest.raises(TrainfreeError, match="threshold"):
        fit_relative_scores(WIDTHS_FIT, rising, threshold=0)
    with pytest.raises(TrainfreeError, match="formula"):
        solve_width(A, B, C, 0.01, "approximate")
    with pytest.raises(TrainfreeError, match="at least 3"):
        fit_relative_scores([10, 20], [0.5, 0.3])


# ----------------------------------------------------------------------------- NEAR uses


def test_estimate_layer_size_on_real_data(wine):
    est = estimate_layer_size(
        wine, hidden=(8, 8), layer=1, widths=(2, 4, 8, 16), repeats=1, activation="tanh"
    )
    assert est.arch == "mlp:8-8|tanh|default" and est.layer == 1 and est.width >= 1
    scores = np.array(est.relative_scores)
    assert np.all(scores > 0) and np.all(scores <= 1 + 1e-6)  # erank(n columns) <= n
    assert scores[-1] < scores[0]
    assert json.loads(json.dumps(est.as_json()))["width"] == est.width
    with pytest.raises(TrainfreeError, match="layer must lie"):
        estimate_layer_size(wine, hidden=(8,), layer=1, widths=(2, 4, 8))


def test_rank_activation_init_sorted_best_first(wine):
    ranking = rank_activation_init(
        wine, hidden=(8,), activations=("relu", "tanhshrink"), inits=("default", "orthogonal"),
        repeats=2,
    )  # fmt: skip
    assert {(r.activation, r.init) for r in ranking} == {
        (a, i) for a in ("relu", "tanhshrink") for i in ("default", "orthogonal")
    }
    means = [r.near_mean for r in ranking]
    assert means == sorted(means, reverse=True) and all(r.near_std >= 0 for r in ranking)


# ----------------------------------------------------------------------------- CLI


def test_cli_size_and_select_json(tmp_path):
    from trainfree.cli_mlp import mlp_app

    runner = CliRunner()
    png = tmp_path / "fit.png"
    args = ["size", "--dataset", "wine", "--widths", "2,4,8,16", "--repeats", "1"]
    result = runner.invoke(mlp_app, [*args, "--formula", "exact", "--plot", str(png), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["formula"] == "exact" and doc["widths"] == [2, 4, 8, 16] and doc["width"] >= 1
    assert {"a", "b", "c", "threshold", "relative_scores"} <= set(doc)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    args = ["select", "--dataset", "wine", "--hidden", "8", "--activations", "relu,tanh"]
    result = runner.invoke(mlp_app, [*args, "--inits", "default", "--repeats", "1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["activation"] for r in rows] != [] and len(rows) == 2

    human = runner.invoke(
        mlp_app, ["size", "--dataset", "wine", "--widths", "2,4,8", "--repeats", "1"]
    )
    assert human.exit_code == 0 and "estimate" in human.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["size", "--dataset", "nope"],
        ["size", "--dataset", "wine", "--widths", "4,x"],
        ["size", "--dataset", "wine", "--formula", "magic", "--widths", "2,4,8", "--repeats", "1"],
        ["select", "--dataset", "wine", "--activations", "swish2", "--repeats", "1"],
    ],
)
def test_cli_user_mistakes_raise_trainfree_errors(args):
    from trainfree.cli_mlp import mlp_app

    result = CliRunner().invoke(mlp_app, args)
    assert result.exit_code != 0 and isinstance(result.exception, TrainfreeError)
