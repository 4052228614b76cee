"""The HTML report: correlations with known answers, the pages and the PNGs it writes."""

from __future__ import annotations

import faulty  # noqa: F401  (registers the lower-is-better proxy test_lower)
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from trainfree.evaluate import BenchmarkTable
from trainfree.errors import TrainfreeError
from trainfree.report import _agreement, _correlations, _log_scale, store_space, write_report
from trainfree.run.scoring import ResolvedConfig, ScoreResult
from trainfree.run.store import ResultStore

CONFIG = ResolvedConfig("cifar10", 64, None, None, "default", 0, 1)
ARCHS = [f"a{i}" for i in range(30)]
ACCURACY = np.linspace(60.0, 94.0, len(ARCHS))


def _fill(path, space: str = "nb201") -> None:
    """params grows over 8 decades with accuracy; test_lower is minus accuracy (perfect, lower
    is better); test_sum is noise; one failure; a two-run search trajectory."""
    noise = np.random.default_rng(0).normal(size=len(ARCHS))
    columns = {"params": 10 ** np.linspace(2, 10, len(ARCHS)), "test_lower": -ACCURACY}
    columns["test_sum"] = noise
    with ResultStore(path) as store:
        for proxy, values in columns.items():
            for arch, value in zip(ARCHS, values, strict=True):
                store.put(space, ScoreResult(arch, proxy, float(value), 0.0, 0.1, CONFIG))
        store.put_failure(space, "a99", "params", CONFIG, "RuntimeError: boom", 0.1)
        for run in ("evolution", "random"):
            fitness = [{"arch": a, "fitness": float(f)} for a, f in zip(ARCHS, noise, strict=True)]
            store.add_events(run, "search", fitness)


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.db"
    _fill(path)
    return path


def _benchmark() -> BenchmarkTable:
    return BenchmarkTable(ARCHS, {"acc": ACCURACY})


def _image(path) -> np.ndarray:
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert pixels.std() > 0  # not a blank canvas
    return pixels


def test_correlations_are_oriented_and_bracketed():
    scores = pd.DataFrame(
        {"test_lower": -ACCURACY, "params": ACCURACY**2, "test_sum": np.cos(ACCURACY)},
        index=ARCHS,
    )
    table = _correlations(scores, pd.Series(ACCURACY, index=ARCHS), n_boot=200, seed=0).set_index(
        "proxy"
    )
    assert table.loc["test_lower", "spearman"] == pytest.approx(1.0)
    assert table.loc["params", "spearman"] == pytest.approx(1.0)
    assert (table["low"] <= table["spearman"]).all() and (table["spearman"] <= table["high"]).all()
    assert table.loc["test_sum", "low"] < table.loc["test_sum", "high"]
    assert (table["n"] == len(ARCHS)).all()


def test_agreement_matrix_is_symmetric_with_gaps_where_too_few_archs():
    scores = pd.DataFrame(
        {"params": ACCURACY, "test_lower": -ACCURACY, "sparse": [1.0, 2.0] + [np.nan] * 28},
        index=ARCHS,
    )
    matrix = _agreement(scores)
    assert np.allclose(matrix[:2, :2], 1.0)  # test_lower agrees once oriented
    assert np.isnan(matrix[2]).all() and np.isnan(matrix[:, 2]).all()


def test_log_scale_only_for_positive_values_spanning_decades():
    assert _log_scale(np.array([1.0, 1e5, np.nan]))
    assert not _log_scale(np.array([1.0, 500.0]))
    assert not _log_scale(np.array([-1.0, 1e5]))


def test_report_with_benchmark_writes_page_and_plots(store, tmp_path):
    index = write_report(store, tmp_path / "out", benchmark=_benchmark(), target="acc", n_boot=100)
    page = index.read_text()
    out = index.parent
    for name in ("correlation.png", "proxy_agreement.png", "search.png", "scatter_params.png"):
        assert f'src="{name}"' in page
        _image(out / name)
    assert (
        "Correlation with acc" in page and "Failures (1)" in page and "RuntimeError: boom" in page
    )
    assert "30 architectures, 3 proxies, 90 scores, 1 failures" in page


def test_report_without_benchmark_says_so(store, tmp_path):
    index = write_report(store, tmp_path / "out")
    page = index.read_text()
    assert "No benchmark given" in page
    assert not list(index.parent.glob("scatter_*.png"))
    assert not (index.parent / "correlation.png").exists()
    _image(index.parent / "proxy_agreement.png")


def test_report_errors_are_one_line(store, tmp_path):
    with pytest.raises(TrainfreeError, match="no result store"):
        write_report(tmp_path / "missing.db", tmp_path / "out")
    with pytest.raises(TrainfreeError, match="target"):
        write_report(store, tmp_path / "out", benchmark=_benchmark())
    _fill(store, space="darts")
    with pytest.raises(TrainfreeError, match="several spaces"):
        store_space(store)
    assert store_space(store, "darts") == "darts"
