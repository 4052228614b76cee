"""The report page: one self-contained file that says what happened, checked on a known store."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from report.stored import ARCHS, CONFIG, QUERIES, RUN
from report.test_plots import pixels

from trainfree.errors import TrainfreeError
from trainfree.report import write_report
from trainfree.report.plots import Png
from trainfree.run.scoring import ScoreResult
from trainfree.run.store import ResultStore


class _Page(HTMLParser):
    """The page's text, its tables (rows of cell texts), its images and every attribute that
    could load something."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[str] = []
        self.sources: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.words: list[str] = []
        self._in_cell = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        self.sources += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.words.append(data)
        if self._in_cell:
            self.tables[-1][-1][-1] += data

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())


def _read(index) -> _Page:
    return _Page(index.read_text(encoding="utf-8"))


def test_report_with_benchmark_says_what_happened(store, benchmark, tmp_path):
    index = write_report(store, tmp_path / "out", benchmark=benchmark, target="acc", n_boot=100)
    assert [p.name for p in index.parent.iterdir()] == ["index.html"]  # one file
    page = _read(index)
    text = page.text
    assert f"{len(QUERIES)} evaluations, {len(set(QUERIES))} distinct architectures" in text
    assert f"({len(QUERIES) - len(set(QUERIES))} repeats of architectures already queried" in text
    assert "Failures (1)" in text and "RuntimeError: boom" in text and "at line 3" not in text
    assert (
        "1 architecture far from the rest drawn apart (red crosses; left, test_sum = -1490)" in text
    )
    assert "Log axis: params spans orders of magnitude" in text
    assert RUN in text and "Scores used: params on synthetic data, batch 64" in text
    # the correlation table is ordered by Spearman: the two perfect proxies before the noise
    (_head, *rows) = next(t for t in page.tables if t[0][:2] == ["proxy", "Spearman"])
    assert [row[0] for row in rows] == ["params", "test_lower", "test_sum"]
    assert float(rows[0][1]) == pytest.approx(1.0) and float(rows[2][1]) < 0.9
    # self-contained: every image is an embedded PNG that decodes, nothing else is loaded
    assert len(page.images) == 1 + 1 + 3 + 1  # search, correlation, 3 scatters, agreement
    assert all(source.startswith("data:image/png;base64,") for source in page.sources)
    for source in page.images:
        pixels(Png(source, 0))
    assert re.search(r"Content-Security-Policy\" content=\"default-src 'none'", index.read_text())


def test_report_without_benchmark_plots_percentiles(store, tmp_path):
    text = _read(write_report(store, tmp_path / "out")).text
    assert "No benchmark given" in text and "Correlation with" not in text
    assert "the pick's mean percentile" in text
    assert "Proxy agreement" in text and "Scores and their settings" in text


def test_runs_of_another_space_are_left_out(store, tmp_path):
    with ResultStore(store) as db:  # other scores of the same architecture names, no run
        for i, arch in enumerate(ARCHS):
            db.put("darts", ScoreResult(arch, "params", float(i), 0.0, 0.1, CONFIG))
    assert "Search" in _read(write_report(store, tmp_path / "a", space="nb201")).text
    darts = _read(write_report(store, tmp_path / "b", space="darts")).text
    assert "trainfree report: darts" in darts and RUN not in darts and "evaluations" not in darts


def test_a_run_recorded_without_scores_is_ranked_by_its_recorded_fitness(store, tmp_path):
    with ResultStore(store) as db:  # as a store written before the scores were recorded
        db.add_events(
            "old",
            "search",
            [{"arch": a, "fitness": float(i)} for i, a in enumerate(ARCHS[:5] + ARCHS[:2])],
        )
    text = _read(write_report(store, tmp_path / "out")).text
    assert "old: 7 evaluations, 5 distinct architectures" in text
    assert "pick follows the fitness recorded at query time" in text
    assert "were not recorded" in text


def test_report_errors_are_one_line(store, benchmark, tmp_path):
    with pytest.raises(TrainfreeError, match="no result store"):
        write_report(tmp_path / "missing.db", tmp_path / "out")
    with pytest.raises(TrainfreeError, match="target"):
        write_report(store, tmp_path / "out", benchmark=benchmark)
