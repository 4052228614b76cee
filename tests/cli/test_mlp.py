"""``trainfree mlp``: layer sizing and activation/init choice from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from trainfree.errors import TrainfreeError


def test_cli_size_and_select_json(tmp_path):
    from trainfree.cli.mlp import app as mlp_app

    runner = CliRunner()
    png = tmp_path / "fit.png"
    args = ["size", "--dataset", "wine", "--widths", "2,4,8,16", "--repeats", "1"]
    result = runner.invoke(mlp_app, [*args, "--formula", "exact", "--plot", str(png), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["formula"] == "exact" and doc["widths"] == [2, 4, 8, 16] and doc["width"] >= 1
    assert {"a", "b", "c", "threshold", "relative_scores"} <= set(doc)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    args = ["select", "--dataset", "wine", "--hidden", "8", "--activations", "relu,tanh"]
    result = runner.invoke(mlp_app, [*args, "--inits", "default", "--repeats", "1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert [r["activation"] for r in rows] != [] and len(rows) == 2

    human = runner.invoke(
        mlp_app, ["size", "--dataset", "wine", "--widths", "2,4,8", "--repeats", "1"]
    )
    assert human.exit_code == 0 and "estimate" in human.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["size", "--dataset", "nope"],
        ["size", "--dataset", "wine", "--widths", "4,x"],
        ["size", "--dataset", "wine", "--formula", "magic", "--widths", "2,4,8", "--repeats", "1"],
        ["select", "--dataset", "wine", "--activations", "swish2", "--repeats", "1"],
    ],
)
def test_cli_user_mistakes_raise_trainfree_errors(args):
    from trainfree.cli.mlp import app as mlp_app

    result = CliRunner().invoke(mlp_app, args)
    assert result.exit_code != 0 and isinstance(result.exception, TrainfreeError)
