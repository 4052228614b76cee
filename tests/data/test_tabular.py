"""Tabular datasets (``data/tabular.py``): scikit-learn sets and CSV files, split, batches."""

from __future__ import annotations

import math

import pytest
import torch

from trainfree.data import DataMode, make_batch
from trainfree.data.tabular import load_tabular, tabular_batch
from trainfree.errors import TrainfreeError


@pytest.fixture(scope="module")
def wine():
    return load_tabular("wine", seed=0)


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


@pytest.mark.parametrize("mode", list(DataMode))
def test_make_batch_serves_a_tabular_dataset_in_every_mode(wine, mode):
    batch = make_batch("wine", batch_size=16, seed=4, mode=mode)
    assert batch.num_classes == 3 and batch.inputs.shape[1:] == (13,)
    if mode in (DataMode.ONES, DataMode.FREE):
        assert batch.inputs.shape == (1, 13) and bool((batch.inputs == 1).all())
    elif mode is DataMode.SYNTHETIC:
        again = make_batch("wine", batch_size=16, seed=4, mode=mode)
        other = make_batch("wine", batch_size=16, seed=5, mode=mode)
        assert torch.equal(batch.inputs, again.inputs) and not torch.equal(
            batch.inputs, other.inputs
        )
        assert len(batch) == 16 and int(batch.targets.max()) < 3
        assert not any(torch.equal(row, x) for row in batch.inputs[:1] for x in wine.x_train)
    else:  # the rows tabular_batch draws from the default split
        expected = tabular_batch(wine, 16, seed=4)
        assert torch.equal(batch.inputs, expected.inputs)
        assert torch.equal(batch.targets, expected.targets)


def test_make_batch_takes_loaded_data_and_csv_paths(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    table = load_tabular(str(path), seed=0)
    by_path = make_batch(str(path), batch_size=5, seed=1)
    by_data = make_batch(table, batch_size=5, seed=1)
    assert by_path.inputs.shape == (5, 2) and by_path.num_classes == 2
    assert torch.equal(by_path.inputs, by_data.inputs)
    path.write_text("a,b,y\n" + "".join(f"{-i},{i % 3},{i % 2}\n" for i in range(20)))
    rewritten = make_batch(str(path), batch_size=5, seed=1)  # the cache notices the new file
    assert not torch.equal(rewritten.inputs, by_path.inputs)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"num_classes": 2}, "has 3 classes"),
        ({"split": "test"}, "training split"),
        ({"batch_size": 0}, "batch-size"),
        ({"batch_size": 10_000}, "batch size must lie"),
    ],
)
def test_make_batch_refuses_what_tabular_data_cannot_give(keywords, message):
    with pytest.raises(TrainfreeError, match=message):
        make_batch("wine", **{"batch_size": 8, "seed": 0, **keywords})
