"""The nb_macro space (NAS-Bench-Macro)."""

from __future__ import annotations

import json
import random

import pytest
import torch

from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.nb_macro import real_arch

SPACE = get_space("nb_macro")


def test_codes_parse_and_enumerate() -> None:
    assert SPACE.canonical(" 02012100 ") == "02012100"
    for bad in ("0201210", "020121003", "02a12100", ""):
        with pytest.raises(InvalidArchError, match="nb_macro arch must be 8 digits in 0-2"):
            SPACE.canonical(bad)
    codes = list(SPACE.enumerate())
    assert SPACE.size() == len(codes) == len(set(codes)) == 3**8
    assert codes[0] == "00000000" and codes[-1] == "22222222" and codes == sorted(codes)


def test_sample_neighbours_mutate() -> None:
    sample = SPACE.sample(6561, seed=1)
    assert sorted(sample) == list(SPACE.enumerate())
    assert SPACE.sample(5, seed=2) == SPACE.sample(5, seed=2) != SPACE.sample(5, seed=3)
    neighbours = SPACE.neighbours("02012100")
    assert len(set(neighbours)) == 16
    assert all(sum(a != b for a, b in zip(n, "02012100", strict=True)) == 1 for n in neighbours)
    assert SPACE.mutate("02012100", random.Random(0)) in neighbours


def test_real_arch_moves_identities_to_the_end_of_each_stage() -> None:
    assert real_arch("10010201") == "10010210"
    assert real_arch("00100110") == "00100110"
    assert SPACE.complexity("10010201") == SPACE.complexity("10010210")


def test_thin_network_runs() -> None:
    model = get_space("nb_macro[head_channels=32,init_channels=4]").build("02012100")
    assert len(model.blocks) == 8
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_complexity_matches_the_benchmark(data_dir) -> None:
    """A handful of entries; benchmarks/macro_check.py checks all 6,561."""
    with open(data_dir / "macro" / "nas-bench-macro_cifar10.json") as f:
        table = json.load(f)
    for code in ["00000000", "22222222", "02012100", *random.Random(0).sample(sorted(table), 5)]:
        got = SPACE.complexity(code)
        assert (got["params"], got["macs"]) == (table[code]["params"], table[code]["flops"])
    assert table["10010201"] == table[real_arch("10010201")]
