"""Progress output on a non-terminal: heartbeat lines also while one step takes long."""

from __future__ import annotations

import time

from trainfree.cli import output


def test_heartbeat_lines_while_a_step_runs(monkeypatch, capsys):
    monkeypatch.setattr(output, "HEARTBEAT_SECONDS", 0.05)
    assert not output.stderr.is_terminal  # captured by pytest
    calls = []

    def status() -> str:
        calls.append(1)
        return "round 1"

    with output.progress(None, "tenas search", quiet=False) as tick:
        tick.update(status)  # the status function is evaluated here, in this thread
        time.sleep(0.5)  # one long step: no update from the search
        tick(status="round 2")
    lines = capsys.readouterr().err.splitlines()
    assert sum(line.startswith("tenas search: 0 after") for line in lines) >= 3
    assert lines[-1].startswith("tenas search: 1 after") and lines[-1].endswith("round 2")
    assert len(calls) <= 1  # the heartbeat thread never calls into the search


def test_quiet_prints_nothing(monkeypatch, capsys):
    monkeypatch.setattr(output, "HEARTBEAT_SECONDS", 0.01)
    with output.progress(3, "scoring", quiet=True) as tick:
        time.sleep(0.1)
        tick()
    assert capsys.readouterr().err == ""
