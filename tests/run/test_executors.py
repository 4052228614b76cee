"""Executors, resumable and concurrent stores, per-task failures and time limits.

The networks and proxies come from tests/faulty.py (test-only registrations that worker
processes import by themselves).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import faulty
import pytest

from trainfree.errors import TrainfreeError
from trainfree.run.executors import (
    LocalExecutor,
    ProcessExecutor,
    RayExecutor,
    Task,
    _context,
    make_executor,
)
from trainfree.run.runner import score_many
from trainfree.run.store import ResultStore

HEALTHY = ["t0", "t1", "t2", "t3"]


def _tasks(archs: list[str], proxy: str = "test_sum") -> list[Task]:
    return [Task("test_tiny", arch, (proxy,), faulty.CONFIG) for arch in archs]


def _values(executor, archs: list[str]) -> dict[str, float | str]:
    """arch -> score, or arch -> error for a failed task."""
    return {
        o.task.arch: o.result.value if o.result else o.error
        for o in executor.map_unordered(_tasks(archs))
    }


@pytest.fixture(scope="module")
def local_values() -> dict[str, float | str]:
    return _values(LocalExecutor(), [*HEALTHY, "boom"])


def _rows(path: Path) -> dict[str, dict]:
    with ResultStore(path) as store:
        return {row["arch"]: row for row in store.rows()}


def _score_in_subprocess(store: Path, archs: list[str], proxy: str = "test_slow"):
    """Start a separate process scoring into ``store`` (forked from the executors' forkserver,
    which has imported torch already, so it starts in a moment)."""
    process = _context().Process(
        target=faulty.score_into, args=(str(store), ",".join(archs), proxy)
    )
    process.start()
    return process


def test_make_executor_picks_and_validates():
    assert isinstance(make_executor("local"), LocalExecutor)
    assert isinstance(make_executor("local", workers=2), ProcessExecutor)
    limited = make_executor("local", time_limit=5)
    assert isinstance(limited, ProcessExecutor) and limited.workers == 1
    for kwargs, message in [
        ({"name": "dask"}, "unknown executor"),
        ({"workers": 0}, "at least 1"),
        ({"time_limit": 0}, "positive"),
        ({"address": "ray://x:10001"}, "--executor ray"),
    ]:
        with pytest.raises(TrainfreeError, match=message):
            make_executor(**kwargs)


def test_process_pool_survives_raising_and_hanging_networks(tmp_path, local_values):
    archs = [*HEALTHY, "boom", "hang"]
    with ProcessExecutor(workers=2, time_limit=1) as pool, ResultStore(tmp_path / "s.db") as store:
        report = score_many(
            "test_tiny", archs, ["test_sum"], faulty.CONFIG, store=store, executor=pool
        )
        # the pool replaced its killed worker and is still usable
        again = _values(pool, ["t0"])
    errors = {f.task.arch: f.error for f in report.failures}
    assert set(errors) == {"boom", "hang"}
    assert errors["hang"] == "timed out after 1s"
    assert "boom" in errors["boom"]
    assert {r.arch: r.value for r in report.results} == {a: local_values[a] for a in HEALTHY}
    assert again == {"t0": local_values["t0"]}
    rows = _rows(tmp_path / "s.db")
    assert {a for a, r in rows.items() if r["status"] == "failed"} == {"boom", "hang"}
    assert rows["hang"]["error"] == "timed out after 1s" and rows["t0"]["status"] == "ok"


def test_killed_run_resumes_without_recomputing(tmp_path):
    path = tmp_path / "s.db"
    process = _score_in_subprocess(path, faulty.ARCHS)
    deadline = time.monotonic() + 120
    while not (path.exists() and len(_rows(path)) >= 3):
        assert process.is_alive(), f"the run ended early (exit code {process.exitcode})"
        assert time.monotonic() < deadline, "the run wrote no rows"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL
    before = _rows(path)
    assert 3 <= len(before) < len(faulty.ARCHS), "the run was not killed mid-way"

    resumed = _score_in_subprocess(path, faulty.ARCHS)
    resumed.join()
    assert resumed.exitcode == 0
    after = _rows(path)
    reference = _values(LocalExecutor(), faulty.ARCHS)
    assert {a: r["value"] for a, r in after.items()} == reference
    assert all(r["status"] == "ok" for r in after.values())
    assert {a: after[a]["created"] for a in before} == {a: r["created"] for a, r in before.items()}


def test_two_processes_writing_one_store_lose_nothing(tmp_path):
    path = tmp_path / "s.db"
    first, second = faulty.ARCHS[:10], faulty.ARCHS[6:]
    writers = [_score_in_subprocess(path, archs) for archs in (first, second)]
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    rows = _rows(path)
    assert {a: r["value"] for a, r in rows.items()} == _values(LocalExecutor(), faulty.ARCHS)
    assert all(r["status"] == "ok" for r in rows.values())


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'trainfree[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_gives_local_values_and_failure_records(ray_cluster, local_values):
    executor = make_executor("ray")
    assert isinstance(executor, RayExecutor) and executor.workers == 2
    assert _values(executor, [*HEALTHY, "boom"]) == local_values
    executor.close()
    assert ray_cluster.is_initialized()  # it joined the running Ray, so leaves it running


def test_ray_time_limit_cancels_a_hanging_network(ray_cluster):
    executor = RayExecutor(time_limit=3)
    assert _values(executor, ["hang"]) == {"hang": "timed out after 3s"}


def test_missing_ray_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(TrainfreeError, match=r"pip install 'trainfree\[ray\]'"):
        make_executor("ray")


def test_memory_format_lays_out_convolutions_and_is_recorded(tmp_path):
    import torch

    from trainfree.proxies import get_proxy
    from trainfree.run.scoring import ScoreConfig, prepare
    from trainfree.spaces import get_space

    space, spec = get_space("nb201"), get_proxy("naswot")
    arch = space.sample(1, seed=0)[0]
    fast = ScoreConfig(dataset="synthetic", batch_size=4, image_size=8)
    plain = ScoreConfig(dataset="synthetic", batch_size=4, image_size=8, memory_format="contiguous")
    model, batch = prepare(space, arch, spec, fast)
    assert batch.inputs.is_contiguous(memory_format=torch.channels_last)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    _, batch = prepare(space, arch, spec, plain)
    assert batch.inputs.is_contiguous() and not batch.inputs.is_contiguous(
        memory_format=torch.channels_last
    )
    _, batch = prepare(space, arch, get_proxy("gradalign"), fast)  # its measured preference
    assert not batch.inputs.is_contiguous(memory_format=torch.channels_last)
    forced = replace(fast, memory_format="channels_last")
    _, batch = prepare(space, arch, get_proxy("gradalign"), forced)
    assert batch.inputs.is_contiguous(memory_format=torch.channels_last)
    with ResultStore(tmp_path / "s.sqlite") as store:
        score_many("nb201", [arch], ["naswot", "gradalign"], fast, store=store)
        devices = {row["proxy"]: row["device"] for row in store.rows()}
        assert devices == {"naswot": "cpu+channels_last", "gradalign": "cpu"}
    with pytest.raises(TrainfreeError, match="memory format"):
        ScoreConfig(memory_format="nhwc")


def test_variant_settings_set_the_proxy_batch_and_repeats():
    from trainfree.proxies import get_proxy
    from trainfree.run.scoring import ScoreConfig, score_arch
    from trainfree.spaces import get_space

    spec = get_proxy("naswot[repeats=2,batch_size=5]")
    assert (spec.name, spec.batch_size, spec.repeats) == ("naswot[batch_size=5,repeats=2]", 5, 2)
    assert get_proxy("tenas_ntk[init=default]").default_init == "default"
    space, config = get_space("nb201"), ScoreConfig(dataset="synthetic", image_size=8)
    arch = space.sample(1, seed=0)[0]
    result = score_arch(space, arch, spec.name, config)
    assert (result.config.batch_size, len(result.values)) == (5, 2)
    explicit = score_arch(space, arch, spec.name, ScoreConfig(dataset="synthetic", batch_size=3))
    assert explicit.config.batch_size == 3  # an explicit config value overrides every proxy's


def test_progress_printer_prints_steps_times(capsys) -> None:
    from trainfree.run.runner import progress_printer

    progress = progress_printer(10, label="c10: ", steps=5)
    for _ in range(10):
        progress(None)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" scores")[0].strip() for line in lines] == [
        f"c10: {done}/10" for done in (2, 4, 6, 8, 10)
    ]
