"""Reading a store for the report: one column per proxy setting, seeds averaged, failures kept."""

from __future__ import annotations

from dataclasses import replace

import pytest
from report.stored import ARCHS, CONFIG, fill

from trainfree.errors import TrainfreeError
from trainfree.report import store_space
from trainfree.report.reading import read_view, setting_text
from trainfree.run.scoring import ScoreResult
from trainfree.run.store import ResultStore


def test_a_proxy_under_two_settings_is_two_columns_and_seeds_are_averaged(tmp_path):
    cifar = replace(CONFIG, dataset="cifar10")
    with ResultStore(tmp_path / "s.db") as store:
        for config, value in ((CONFIG, 1.0), (replace(CONFIG, seed=1), 3.0), (cifar, 10.0)):
            store.put("nb201", ScoreResult("a", "synflow", value, 0.0, 0.5, config))
        store.put("nb201", ScoreResult("a", "params", 7.0, 0.0, 0.1, CONFIG))
        store.put_failure("nb201", "b", "synflow", cifar, "ValueError: nope", 0.2)
        view = read_view(store, "nb201")
    assert sorted(view.scores.columns) == [
        "params",
        "synflow [data=cifar10]",
        "synflow [data=synthetic]",
    ]
    assert view.scores.loc["a", "synflow [data=synthetic]"] == 2.0  # seeds 0 and 1
    settings = view.settings.loc["synflow [data=synthetic]"]
    assert settings["seeds"] == [0, 1] and settings["archs"] == 1
    assert view.settings.loc["synflow [data=cifar10]", "failures"] == 1
    assert list(view.failures["label"]) == ["synflow [data=cifar10]"]


def test_setting_values_read_as_a_person_would():
    assert setting_text("image_size", 0) == "dataset's"
    assert setting_text("image_size", 32) == "32"
    assert setting_text("params", '{"build": {}, "options": {}}') == "defaults"
    assert setting_text("params", '{"build": {"C": 4}, "options": {"k": 0.5}}') == "C=4, k=0.5"


def test_lower_is_better_columns_are_negated_when_oriented(store):
    with ResultStore(store) as db:
        view = read_view(db, "nb201")
    assert view.signs["test_lower"] == -1.0 and view.signs["params"] == 1.0
    assert (view.oriented["test_lower"] == -view.scores["test_lower"]).all()
    assert len(view.scores) == len(ARCHS) and len(view.failures) == 1


def test_the_space_must_be_named_when_the_store_holds_several(store, tmp_path):
    assert store_space(store) == "nb201"
    with pytest.raises(TrainfreeError, match="no result store"):
        store_space(tmp_path / "missing.db")
    with pytest.raises(TrainfreeError, match="holds no scores of space 'darts'"):
        store_space(store, "darts")
    fill(store, space="darts")
    with pytest.raises(TrainfreeError, match="several spaces"):
        store_space(store)
    assert store_space(store, "darts") == "darts"
