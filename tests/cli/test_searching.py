"""The ``search``, ``demo`` and ``report`` commands: JSON contract, store, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trainfree.cli import main
from trainfree.cli.searching import DEMO_PROXY, DEMO_TARGET
from trainfree.run.store import ResultStore
from trainfree.spaces import get_space

SEARCH_KEYS = {"algo", "arch", "target_value", "seconds", "evaluations"}
QUICK = "--dataset synthetic --quiet"
ACCURACY = "--target cifar10_test_200ep --benchmark"  # the table's path follows


def _run(capsys, line: str, *paths: object) -> tuple[int, str, str]:
    """Run ``trainfree LINE PATHS...`` in-process (``line`` is split on spaces)."""
    code = main([*line.split(), *map(str, paths)])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, line: str, *paths: object) -> dict:
    code, out, err = _run(capsys, line, *paths, "--json")
    assert code == 0, err
    return json.loads(out)


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def table(data_dir):
    return data_dir / "nb201" / "nb201_accuracy.csv"


def _is_canonical(arch: str) -> bool:
    return arch == get_space("nb201").canonical(arch)


def test_rea_json_contract(capsys):
    line = f"search nb201 --algo rea --proxy params --evaluations 12 {QUICK} --no-benchmark"
    doc = _json(capsys, line)
    assert set(doc) >= SEARCH_KEYS and _is_canonical(doc["arch"])
    assert doc["algo"] == "rea" and doc["evaluations"] == 12 and doc["target_value"] is None
    assert doc["fitness"] == doc["scores"]["params"] > 0
    assert _json(capsys, line)["arch"] == doc["arch"]  # seeded


def test_random_with_ensemble_and_benchmark(capsys, table):
    doc = _json(
        capsys,
        f"search nb201 --algo random --proxy ensemble[azlog]:synflow+params --evaluations 2 "
        f"{QUICK} {ACCURACY}",
        table,
    )
    assert doc["evaluations"] == 2 and set(doc["scores"]) == {"synflow", "params"}
    assert 10.0 < doc["target_value"] <= doc["best_target_value"] < 100.0
    assert 1 <= doc["rank"] <= doc["n_archs"] == 15625 and 0.0 <= doc["percentile"] <= 100.0


def test_search_human_output(capsys):
    code, out, _ = _run(
        capsys, f"search nb201 --algo random --proxy params --evaluations 3 {QUICK}"
    )
    assert code == 0 and "random search of nb201 with params found" in out


def test_freedarts_json_contract(capsys):
    doc = _json(capsys, f"search nb201 --algo freedarts --image-size 8 {QUICK}")
    assert set(doc) >= SEARCH_KEYS and doc["algo"] == "freedarts" and doc["fitness"] is None
    assert _is_canonical(doc["arch"]) and doc["evaluations"] >= 1


def test_tenas_json_contract(capsys):
    tiny = "--image-size 8 --batch-size 4 --repeats 1"
    doc = _json(capsys, f"search nb201 --algo tenas {tiny} {QUICK}")
    assert set(doc) >= SEARCH_KEYS and doc["algo"] == "tenas" and doc["evaluations"] > 1
    assert _is_canonical(doc["arch"]) and "none" not in doc["arch"]


def test_search_options_reach_the_search(capsys, monkeypatch):
    import trainfree.cli.searching as cli_search

    seen = {}
    real = cli_search.run_search

    def spy(algo, space, **options):
        seen.update(options)
        return real(algo, space, **options)

    monkeypatch.setattr(cli_search, "run_search", spy)
    tiny = "--image-size 8 --batch-size 4 --repeats 1"
    line = f"search nb201 --algo tenas {tiny} {QUICK} -o draws=launcher -o augment=true"
    doc = _json(capsys, line + " -o lr_images=20 -o lr_samples=10 -o lr_batches=1")
    assert doc["algo"] == "tenas" and _is_canonical(doc["arch"])
    assert seen["draws"] == "launcher" and seen["augment"] is True and seen["lr_images"] == 20
    rea = f"search nb201 --algo rea --proxy params --evaluations 6 {QUICK} -o population_size=3"
    assert _json(capsys, rea)["evaluations"] == 6 and seen["population_size"] == 3


def test_search_store_feeds_report(capsys, tmp_path, table):
    store = tmp_path / "runs.sqlite"
    line = f"search nb201 --algo rea --proxy params --evaluations 8 {QUICK} --store"
    first, second = _json(capsys, line, store), _json(capsys, line, store)
    assert first["arch"] == second["arch"]
    with ResultStore(store) as db:
        runs = {run for run, *_ in db.events("search")}
        assert len(runs) == 2  # a re-run is a second trajectory, not appended to the first
        assert {row["proxy"] for row in db.rows()} == {"params"}
    code, out, err = _run(
        capsys, "report", store, "--out", tmp_path / "html", *ACCURACY.split(), table
    )
    assert code == 0, err
    index = tmp_path / "html" / "index.html"
    assert out.strip() == str(index)
    page = index.read_text()
    # one self-contained page (issue 23): the trajectory is an embedded image
    assert '<img src="data:image/png;base64,' in page and 'alt="search trajectory"' in page
    assert "Correlation with cifar10_test_200ep" in page


def test_report_of_a_score_run(capsys, tmp_path):
    store = tmp_path / "scores.sqlite"
    code, _, err = _run(
        capsys, f"score nb201 --sample 3 --proxy params,flops {QUICK} --store", store
    )
    assert code == 0, err
    code, out, err = _run(capsys, "report", store)
    assert code == 0, err
    index = tmp_path / "scores-report" / "index.html"
    assert out.strip() == str(index) and "No benchmark given" in index.read_text()
    assert "<h2>Proxy agreement</h2>" in index.read_text()  # embedded (issue 23)


def test_demo_with_table(capsys, table):
    doc = _json(capsys, "demo --evaluations 2 --quiet --benchmark", table)
    assert set(doc) >= SEARCH_KEYS and doc["algo"] == "rea" and doc["proxy"] == DEMO_PROXY
    assert doc["evaluations"] == 2 and doc["target"] == DEMO_TARGET and "note" not in doc
    assert set(doc["scores"]) == set(DEMO_PROXY.split(":")[1].split("+"))
    assert doc["target_value"] is not None and doc["n_archs"] == 15625
    assert doc["best_target_value"] == pytest.approx(94.37, abs=0.01)
    code, out, _ = _run(capsys, "demo --evaluations 1 --quiet --data-dir", table.parents[1])
    assert code == 0 and DEMO_TARGET in out and "better than" in out and "best in the table" in out


def test_demo_without_table(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("TRAINFREE_DATA", raising=False)
    code, out, _ = _run(capsys, "demo --evaluations 1 --quiet")
    assert code == 0 and "No benchmark table found" in out and "--benchmark FILE" in out
    doc = _json(capsys, "demo --evaluations 1 --quiet --data-dir", tmp_path)
    assert doc["target_value"] is None and doc["benchmark"] is None and str(tmp_path) in doc["note"]


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ("search nb201 --algo bananas", ["bananas", "known"]),
        ("search nb201 --algo rea", ["--proxy"]),
        ("search nb201 --algo random --proxy nosuch", ["nosuch"]),
        ("search nb201 --algo rea --proxy params --evaluations 0", ["budget"]),
        ("search nb201 --algo rea --proxy ensemble[azlog]:params", ["two"]),
        ("search nb201 --algo rea --proxy params --benchmark x.csv", ["--target"]),
        ("search nb201 --algo tenas --evaluations 5", ["--evaluations", "tenas"]),
        ("search nb201 --algo freedarts --proxy synflow --store s.db", ["--proxy", "freedarts"]),
        ("search mlp --algo freedarts", ["supernet"]),
        ("search nb201 --algo tenas -o draws", ["KEY=VALUE"]),
        ("search nb201 --algo tenas -o nosuch=1", ["nosuch", "lr_images"]),
        ("search nb201 --algo tenas -o lr_images=many", ["lr_images", "int"]),
        ("search nb201 --algo tenas -o seed=3", ["seed", "own flag"]),
        ("report missing.sqlite", ["no result store"]),
        ("demo --benchmark missing.csv", ["missing.csv"]),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, monkeypatch, line, needles):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, line)
    _one_line_error(code, err, *needles)


def test_report_errors(capsys, tmp_path, table):
    store = tmp_path / "s.sqlite"
    code, _, _ = _run(capsys, f"score nb201 --sample 1 --proxy params {QUICK} --store", store)
    assert code == 0
    code, _, err = _run(capsys, "report", store, "--benchmark", table)
    _one_line_error(code, err, "--target")
    code, _, err = _run(capsys, "report", store, "--space", "darts")
    _one_line_error(code, err, "darts")


def test_module_entry_point_has_every_command():
    """``python -m trainfree.cli`` runs the app with every command."""
    proc = subprocess.run(
        [sys.executable, "-m", "trainfree.cli", "search", "nb201", "--algo", "nosuch"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    _one_line_error(proc.returncode, proc.stderr, "nosuch")


def test_search_uses_the_data_folders_table_and_says_so(capsys, data_dir, monkeypatch):
    """Issue 26: like the demo, a search compares with $TRAINFREE_DATA's table by default."""
    monkeypatch.setenv("TRAINFREE_DATA", str(data_dir))
    doc = _json(capsys, f"search nb201 --algo random --proxy params --evaluations 2 {QUICK}")
    assert doc["target"] == "cifar10_test_200ep" and doc["target_value"] is not None
    assert "found under the data folder" in doc["note"] and "--no-benchmark" in doc["note"]
    doc = _json(capsys, f"search nb201 --algo random --proxy params --evaluations 2 {QUICK} "
                        "--dataset cifar100")  # fmt: skip
    assert doc["target"] == "cifar100_test_200ep"
    doc = _json(capsys, f"search nb201 --algo random --proxy params --evaluations 2 {QUICK} "
                        "--no-benchmark")  # fmt: skip
    assert doc["target"] is None and "note" not in doc


def test_search_within_the_benchmark_table(capsys, data_dir, monkeypatch):
    """Issue 20: a budgeted search kept to the table's architectures always has a table value."""
    monkeypatch.setenv("TRAINFREE_DATA", str(data_dir))
    line = f"search mnasnet --algo rea --proxy params --max-macs 300M --evaluations 6 {QUICK}"
    doc = _json(capsys, line + " --within-benchmark")
    assert doc["target_value"] is not None and doc["rank"] is not None
    assert doc["macs"] <= 300e6 and doc["evaluations"] == 6
    code, _, err = _run(capsys, line + " --within-benchmark --no-benchmark")
    _one_line_error(code, err, "--within-benchmark needs a benchmark table")
    code, _, err = _run(capsys, line.replace("300M", "50M") + " --within-benchmark")
    _one_line_error(code, err, "loosen the limits")
    code, _, err = _run(capsys, "search nb201 --algo freedarts --within-benchmark")
    _one_line_error(code, err, "--within-benchmark", "freedarts")
