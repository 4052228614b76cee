"""The SQLite result store: keys, failures, events, provenance."""

from __future__ import annotations

import pytest

from trainfree import __version__
from trainfree.errors import TrainfreeError
from trainfree.run.scoring import ResolvedConfig, ScoreResult
from trainfree.run.store import ResultStore

CONFIG = ResolvedConfig("cifar10", 64, None, None, "default", 0, 1)


def _result(arch: str, value: float, config: ResolvedConfig = CONFIG) -> ScoreResult:
    return ScoreResult(arch, "synflow", value, 0.0, 0.5, config, (value,))


def test_put_get_roundtrip_and_provenance(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.put("nb201", _result("a", 1.5))
        got = store.get("nb201", "a", "synflow", CONFIG)
        assert got is not None and got.value == 1.5 and got.status == "ok"
        (row,) = store.rows()
        assert (
            row["version"] == __version__ and row["init"] == "default" and row["batch_size"] == 64
        )


def test_keys_separate_seeds_and_batch_sizes(tmp_path):
    other = ResolvedConfig("cifar10", 64, None, None, "default", 1, 1)
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.put("nb201", _result("a", 1.0))
        store.put("nb201", _result("a", 2.0, other))
        assert store.get("nb201", "a", "synflow", CONFIG).value == 1.0
        assert store.get("nb201", "a", "synflow", other).value == 2.0
        assert store.get("nb201", "b", "synflow", CONFIG) is None


def test_failure_is_recorded_then_replaced_by_success(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        store.put_failure("nb201", "a", "synflow", CONFIG, "boom", 0.1)
        assert store.get("nb201", "a", "synflow", CONFIG).status == "failed"
    with ResultStore(path) as store:  # persisted across connections
        assert [r["error"] for r in store.rows(status="failed")] == ["boom"]
        store.put("nb201", _result("a", 3.0))
        assert store.get("nb201", "a", "synflow", CONFIG).as_result().value == 3.0


def test_events_keep_order(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.add_events("run1", "search", [{"fitness": 1.0}, {"fitness": 2.0}])
        assert [p["fitness"] for *_, p in store.events("search")] == [1.0, 2.0]


def test_proxy_parameters_are_part_of_the_key(tmp_path):
    from dataclasses import replace

    from trainfree.proxies import get_proxy
    from trainfree.run.scoring import ScoreConfig

    plain = ScoreConfig().resolve(get_proxy("intrain"))
    assert '"layers": "blocks"' in plain.params
    changed = replace(plain, params=ScoreConfig().resolve(get_proxy("intrain[layers=relu]")).params)
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.put("nb201", ScoreResult("a", "intrain", 1.0, 0.0, 0.1, plain, (1.0,)))
        assert store.get("nb201", "a", "intrain", plain).value == 1.0
        # the same name computed with another default (an upgrade) is not read back
        assert store.get("nb201", "a", "intrain", changed) is None
        (row,) = store.rows()
        assert row["params"] == plain.params


def test_a_store_from_before_params_keeps_its_rows_aside(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE scores (space TEXT, arch TEXT, proxy TEXT, value REAL)")
    db.execute("INSERT INTO scores VALUES ('nb201', 'a', 'synflow', 3.0)")
    db.commit()
    db.close()
    with ResultStore(path) as store:
        assert list(store.rows()) == [] and store.get("nb201", "a", "synflow", CONFIG) is None
        store.put("nb201", _result("a", 1.5))
        assert store.get("nb201", "a", "synflow", CONFIG).value == 1.5
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM scores_without_params").fetchall() == [(3.0,)]
    db.close()


def test_export_import_roundtrip_is_exact(tmp_path):
    value = 1 / 3 + 1e-12  # needs all 17 digits
    with ResultStore(tmp_path / "a.sqlite") as store:
        store.put("nb201", _result("a", value))
        store.put("nb201", _result('b, with "quotes"', -2.5))
        store.put_failure("nb201", "c", "synflow", CONFIG, "boom\nsecond line", 0.1)
        assert store.export_csv(tmp_path / "rows.csv.gz") == 3
        rows = sorted(store.rows(), key=lambda r: r["arch"])
    with ResultStore(tmp_path / "b.sqlite") as other:
        other.put("nb201", _result("a", 9.0))  # present keys keep this store's row
        assert other.import_csv(tmp_path / "rows.csv.gz") == 2
        assert other.import_csv(tmp_path / "rows.csv.gz") == 0
        assert other.get("nb201", "a", "synflow", CONFIG).value == 9.0
        got = sorted(other.rows(), key=lambda r: r["arch"])
        assert got[1:] == rows[1:] and got[2]["value"] is None and got[2]["status"] == "failed"
        (tmp_path / "bad.csv").write_text("arch,value\nx,1\n")
        with pytest.raises(TrainfreeError, match="not an exported result store"):
            other.import_csv(tmp_path / "bad.csv")
    with ResultStore(tmp_path / "c.sqlite") as third:
        third.import_csv(tmp_path / "rows.csv.gz")
        assert third.get("nb201", "a", "synflow", CONFIG).value == value


#: The scores table exactly as the version before issue 17 (0.1.0, commit fef4627) created it.
_SCHEMA_0_1_0 = """
CREATE TABLE scores (
    space TEXT NOT NULL, arch TEXT NOT NULL, proxy TEXT NOT NULL, dataset TEXT NOT NULL,
    batch_size INTEGER NOT NULL, image_size INTEGER NOT NULL, num_classes INTEGER NOT NULL,
    init TEXT NOT NULL, seed INTEGER NOT NULL, repeats INTEGER NOT NULL, params TEXT NOT NULL,
    status TEXT NOT NULL, value REAL, std REAL, "values" TEXT, seconds REAL, error TEXT,
    device TEXT, version TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (space, arch, proxy, dataset, batch_size, image_size, num_classes, init, seed,
                 repeats, params)
)
"""


def test_a_store_written_before_issue_17_is_read_back_without_rescoring(tmp_path):
    """Rows written by the previous version (its schema and key: the proxy's parameters as its
    fingerprint, image size and classes 0 for the dataset's) are answers, not work."""
    import sqlite3

    from trainfree.proxies import get_proxy
    from trainfree.run.runner import score_many
    from trainfree.run.scoring import ScoreConfig

    path = tmp_path / "old.sqlite"
    archs = ["|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
             "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"]  # fmt: skip
    config = ScoreConfig(dataset="synthetic")
    resolved = config.resolve(get_proxy("params"))
    with sqlite3.connect(path) as db:
        db.execute(_SCHEMA_0_1_0)
        for i, arch in enumerate(archs):
            db.execute(
                "INSERT INTO scores VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                ("nb201", arch, "params", "synthetic", resolved.batch_size, 0, 0,
                 resolved.init, 0, 1, get_proxy("params").fingerprint(), "ok", 1000.0 + i, 0.0,
                 f"[{1000.0 + i!r}]", 0.01, None, "cpu", "0.1.0", 0.0),
            )  # fmt: skip
    seen = []
    with ResultStore(path) as store:
        report = score_many("nb201", archs, ["params"], config, store=store, progress=seen.append)
    assert [o.cached for o in seen] == [True, True]
    assert sorted(r.value for r in report.results) == [1000.0, 1001.0]  # the stored values
