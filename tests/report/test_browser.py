"""The report in a real browser: headless Chromium loads it without a console error, every image
decodes, and a 400 px wide window needs no horizontal scrolling.

Skips where Chromium is not installed (Debian: ``apt-get install chromium``), except under
``CI=true``, where that is a failure. Screenshots are left in pytest's temporary folder (the
paths are printed; ``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from report.chromium import Browser, find_chromium

from trainfree.cli import main
from trainfree.evaluate import BenchmarkTable
from trainfree.report import write_report
from trainfree.run.scoring import ResolvedConfig
from trainfree.run.store import ResultStore

SPACE = "nb201[C=4,N=1]"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
WIDTHS = (1280, 400)
#: The page's state once loaded: its images, its width against the window's, a table to sort.
_STATE = """JSON.stringify({
  images: Array.from(document.images).map((i) => [i.complete, i.naturalWidth]),
  scrollWidth: document.documentElement.scrollWidth,
  clientWidth: document.documentElement.clientWidth,
})"""
_SORT = """(() => {
  const table = Array.from(document.querySelectorAll("table.sortable")).find(
    (t) => t.tHead.rows[0].cells[1].textContent === "Spearman");
  const column = () => Array.from(table.tBodies[0].rows).map((r) => Number(r.cells[1].dataset.key));
  const before = column();
  table.tHead.rows[0].cells[1].click();
  const once = column();
  table.tHead.rows[0].cells[1].click();
  return JSON.stringify({before, once, twice: column()});
})()"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium not found; CI installs the Debian package chromium")
        pytest.skip("Chromium not found: apt-get install chromium (or set $CHROMIUM) to run this")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report of a real search (rea with a rank ensemble on thin NB201 networks and
    synthetic data), the all-``none`` cell scored too (synflow's floor value) and one failure,
    against a made-up accuracy table."""
    folder = tmp_path_factory.mktemp("browser")
    store = folder / "s.sqlite"
    common = ["--dataset", "synthetic", "--store", str(store), "--quiet"]
    search = ["search", SPACE, "--algo", "rea", "--proxy", "ensemble[azlog]:meco+synflow"]
    assert main([*search, "--evaluations", "16", "-o", "population_size=6", *common]) == 0
    assert main(["score", SPACE, ALL_NONE, "--proxy", "meco,synflow", *common]) == 0
    with ResultStore(store) as db:
        config = ResolvedConfig("synthetic", 64, None, None, "default", 0, 1)
        db.put_failure(SPACE, ALL_NONE, "grad_norm", config, "RuntimeError: no gradient", 0.01)
        archs = sorted({row["arch"] for row in db.rows()})
    accuracy = np.random.default_rng(0).uniform(80.0, 94.0, len(archs))
    accuracy[archs.index(ALL_NONE)] = 10.0
    table = BenchmarkTable(archs, {"cifar10_test_200ep": accuracy})
    return write_report(
        store, folder / "report", benchmark=table, target="cifar10_test_200ep", n_boot=200
    )


@pytest.fixture(scope="module")
def browser(chromium):
    with Browser(chromium) as opened:
        yield opened


@pytest.mark.parametrize("width", WIDTHS)
def test_report_renders_in_chromium(browser, report, width):
    browser.open(report, width)
    state = json.loads(browser.evaluate(_STATE))
    shot = browser.screenshot(report.parent / f"screenshot-{width}.png")
    print(f"screenshot: {shot}")
    assert browser.log == []
    assert len(state["images"]) >= 5
    assert all(complete and natural > 0 for complete, natural in state["images"])
    assert state["scrollWidth"] <= state["clientWidth"] == width  # no horizontal scrolling
    assert imread(shot).shape[1] == width


def test_tables_sort_by_a_click(browser, report):
    browser.open(report, WIDTHS[0])
    order = json.loads(browser.evaluate(_SORT))
    assert browser.log == []
    assert order["before"] == sorted(order["before"], reverse=True)  # written best first
    assert order["once"] == sorted(order["before"], reverse=True)
    assert order["twice"] == sorted(order["before"])


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    """A script error, an image that does not decode and a too-wide element are all seen."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img src='data:image/png;base64,AAAA'>"
        "<div style='width:900px'>wide</div><script>undefinedFunction()</script></body></html>"
    )
    browser.open(page, 400)
    state = json.loads(browser.evaluate(_STATE))
    assert any("undefinedFunction" in line for line in browser.log)
    assert state["images"] == [[True, 0]]
    assert state["scrollWidth"] > state["clientWidth"]
