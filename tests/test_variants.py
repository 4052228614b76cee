"""``name[key=value,...]`` variants: thinner spaces (``nb201[C=4,N=1]``) and the shared parser."""

from __future__ import annotations

import json

import pytest

from trainfree.cli import main
from trainfree.errors import TrainfreeError
from trainfree.run.runner import score_many
from trainfree.run.scoring import ScoreConfig
from trainfree.run.store import ResultStore
from trainfree.search import run_search
from trainfree.spaces import get_space, size_options
from trainfree.spaces.nb201 import build_network
from trainfree.variants import parse_value, split_names, split_variant, variant_name

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def _count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def test_parser_helpers() -> None:
    assert split_names("a,b[x=1,y=2], c") == ["a", "b[x=1,y=2]", "c"]
    assert split_variant("nb201[C=4]") == ("nb201", "C=4")
    assert split_variant(" nb201 ") == ("nb201", None)
    assert variant_name("p", {"z": True, "a": 2}) == "p[a=2,z=true]"
    assert parse_value("space size", "C", "8", 16) == 8
    assert parse_value("x", "eps", "1", 0.5) == 1.0
    with pytest.raises(TrainfreeError, match="expected a int"):
        parse_value("space size", "C", "wide", 16)


def test_sized_space_builds_the_thin_network() -> None:
    space = get_space("nb201[N=1, C=4]")
    assert space.name == "nb201[C=4,N=1]"  # canonical: keys sorted
    assert space.size() == 15625 and space.canonical(ARCH) == ARCH  # the rest is NB201's
    thin = _count(build_network(ARCH, C=4, N=1))
    assert _count(space.build(ARCH)) == thin < _count(get_space("nb201").build(ARCH))
    assert _count(space.build(ARCH, C=8)) == _count(build_network(ARCH, C=8, N=1)) != thin
    assert set(size_options(type(get_space("nb201")))) == {"C", "N", "stem", "depth"}


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("nb201[D=1]", "has no size 'D' (known: C, N, stem, depth)"),
        ("nb201[C=wide]", "expected a int"),
        ("nb201[]", "empty size list"),
        ("nb201[num_classes=3]", "has no size 'num_classes'"),
        ("nosuch[C=1]", "unknown space"),
    ],
)
def test_bad_variants_raise_one_line(name: str, needle: str) -> None:
    with pytest.raises(TrainfreeError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        get_space(name)


def test_scores_are_stored_under_the_canonical_variant(tmp_path) -> None:
    config = ScoreConfig(dataset="synthetic")
    with ResultStore(tmp_path / "s.sqlite") as store:
        thin = score_many("nb201[N=1,C=4]", [ARCH], ["params"], config, store=store)
        full = score_many("nb201", [ARCH], ["params"], config, store=store)
        spaces = {row["space"] for row in store.rows()}
    assert spaces == {"nb201[C=4,N=1]", "nb201"}
    assert thin.values("params", [ARCH])[0] == _count(build_network(ARCH, C=4, N=1))
    assert full.values("params", [ARCH])[0] > thin.values("params", [ARCH])[0]


def test_cli_scores_a_variant_and_refuses_a_bad_one(capsys) -> None:
    args = ["score", "nb201[C=4,N=1]", ARCH, "--proxy", "params", "--dataset", "synthetic"]
    assert main([*args, "--json", "--quiet"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["value"] == _count(build_network(ARCH, C=4, N=1))
    code = main(["score", "nb201[C=x]", ARCH, "--proxy", "params", "--dataset", "synthetic"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code != 0 and len(err) == 1 and "expected a int" in err[0]


def test_supernet_search_refuses_a_variant() -> None:
    with pytest.raises(TrainfreeError, match=r"use space 'nb201' and give the sizes C=4"):
        run_search("tenas", "nb201[C=4]")
