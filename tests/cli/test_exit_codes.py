"""Exit codes and long runs, end to end in a subprocess (issue 26): 0 success, 1 when a score
failed, 2 for usage errors, 130 on interrupt (then a rerun resumes); heartbeat lines when stderr
is not a terminal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

THIN = "nb201[C=4,N=1]"
QUICK = ["--dataset", "synthetic"]


def _interruptible() -> None:
    """In the child: Ctrl-C's default action, even under a runner that ignores SIGINT (a
    background job of a non-interactive shell does, and Python then keeps it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trainfree.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
        env={**os.environ, **env}, preexec_fn=_interruptible,
    )  # fmt: skip


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _count(store: Path, query: str) -> int:
    """``SELECT count(*) ...`` on ``store``; 0 while the file or its tables are not there yet."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as db:
            return db.execute(query).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _rows(store: Path) -> int:
    return _count(store, "SELECT count(*) FROM scores WHERE status = 'ok'")


def _interrupt_when_stored(proc: subprocess.Popen, store: Path, rows: int) -> None:
    deadline = time.monotonic() + 240
    while _rows(store) < rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)


def test_success_and_usage_errors(tmp_path: Path) -> None:
    code, out, _ = _finish(_cli(["score", THIN, "--sample", "2", "--proxy", "params", *QUICK,
                                 "--json", "--quiet"], tmp_path))  # fmt: skip
    assert code == 0 and len(json.loads(out)["results"]) == 2
    for args, needle in [
        (["score", THIN, "--sample", "0", "--proxy", "params"], "--sample"),
        (["score", THIN, "--sample", "2", "--proxy", "nosuch"], "nosuch"),
        (["score", THIN, "--sample", "2", "--proxy", "params", "--json", "true"], "'true'"),
        (["search", THIN, "--algo", "rea"], "--proxy"),
    ]:
        code, _, err = _finish(_cli(args, tmp_path))
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (args, err)


def test_failed_scores_exit_1_with_a_summary(tmp_path: Path) -> None:
    # full-size networks: synflow takes far longer than the limit, however quiet the machine
    args = ["score", "nb201", "--sample", "2", "--proxy", "synflow", *QUICK, "--workers", "2",
            "--time-limit", "0.001", "--json", "--quiet"]  # fmt: skip
    code, out, err = _finish(_cli(args, tmp_path))
    assert code == 1
    assert json.loads(out)["results"] == [] and len(json.loads(out)["failures"]) == 2
    assert "error: 2 of 2 scores failed: timed out" in err


def test_interrupted_score_exits_130_and_resumes(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    args = ["score", THIN, "--sample", "30", "--proxy", "synflow,naswot", *QUICK,
            "--store", str(store), "--json"]  # fmt: skip
    proc = _cli(args, tmp_path, TRAINFREE_HEARTBEAT_SECONDS="0.1")
    _interrupt_when_stored(proc, store, 4)
    code, out, err = _finish(proc)
    assert code == 130, err
    document = json.loads(out)  # still one valid document, with what was done
    done = len(document["results"])
    assert document["interrupted"] is True and 4 <= done < 60
    assert f"interrupted: {done} of 60 scored, rerun the same command to resume" in err
    assert "scoring: " in err  # heartbeat lines: stderr is not a terminal
    assert _rows(store) == done
    code, out, err = _finish(_cli(args, tmp_path))
    assert code == 0 and len(json.loads(out)["results"]) == 60
    assert f"{done} from store" in err


def test_interrupted_search_exits_130_and_resumes_from_the_store(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    search = ["search", THIN, "--algo", "rea", "--proxy", "synflow", *QUICK, "--no-benchmark",
              "--store", str(store)]  # fmt: skip
    proc = _cli([*search, "--evaluations", "100000"], tmp_path, TRAINFREE_HEARTBEAT_SECONDS="0.1")
    _interrupt_when_stored(proc, store, 5)
    code, out, err = _finish(proc)
    assert code == 130 and out == "" and "interrupted: rerun the same command" in err
    assert "rea search: " in err and "leader beats synflow" in err
    kept = _rows(store)
    code, out, err = _finish(_cli([*search, "--evaluations", str(kept), "--json"], tmp_path))
    assert code == 0 and json.loads(out)["evaluations"] == kept
    assert _rows(store) >= kept


def test_interrupted_correlate_prints_what_was_done(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "c.sqlite"
    args = ["correlate", THIN, "--benchmark", str(data_dir / "nb201" / "nb201_accuracy.csv"),
            "--target", "cifar10_test_200ep", "--sample", "30", "--proxy", "synflow,naswot",
            *QUICK, "--store", str(store), "--json", "--bootstrap", "0"]  # fmt: skip
    proc = _cli(args, tmp_path)
    _interrupt_when_stored(proc, store, 6)
    code, out, err = _finish(proc)
    assert code == 130 and "rerun the same command to resume" in err
    document = json.loads(out)
    assert document["interrupted"] is True and document["n"] == 30
    code, out, _ = _finish(_cli(args, tmp_path))
    assert code == 0 and json.loads(out)["results"]["synflow"]["n"] == 30


def _rounds(store: Path) -> int:
    return _count(store, "SELECT count(*) FROM events WHERE kind = 'round'")


def test_interrupted_pruning_search_resumes_from_its_last_round(tmp_path: Path) -> None:
    store = tmp_path / "t.sqlite"
    tiny = ["search", "nb201", "--algo", "tenas", *QUICK, "--image-size", "8", "--batch-size",
            "4", "--repeats", "1", "-o", "lr_samples=20", "-o", "lr_batches=1", "-o",
            'ntk_supernet={"depth": 1}', "--json", "--no-benchmark"]  # fmt: skip
    code, out, err = _finish(_cli(tiny, tmp_path))
    assert code == 0, err
    whole = json.loads(out)
    # two threads: the interrupt lands in TE-NAS's threaded NTK passes as well
    proc = _cli([*tiny, "--store", str(store)], tmp_path, OMP_NUM_THREADS="2")
    deadline = time.monotonic() + 240
    while _rounds(store) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the search finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    code, out, err = _finish(proc)
    assert code == 130 and out == "" and "interrupted" in err
    kept = _rounds(store)
    code, out, err = _finish(_cli([*tiny, "--store", str(store)], tmp_path))
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["arch"] == whole["arch"] and resumed["evaluations"] == whole["evaluations"]
    assert 1 <= kept < _rounds(store) == 3  # the rounds after the interrupt were added

