"""The NAS-Bench-101 space: strings, pruning, the official hash and representative, the network's
parameter counts (official and NASLib's), sampling and mutation, tables with duplicate cells."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
import torch

from trainfree.errors import TrainfreeError
from trainfree.evaluate.tables import load_benchmark
from trainfree.run.scoring import ScoreConfig, score_arch
from trainfree.spaces import InvalidArchError, get_space
from trainfree.spaces.nb101 import OPS, SIZE, Cell, canonical_cell, module_hash, parse_cell

SPACE = get_space("nb101")
THIN = get_space("nb101[C=8,N=1]")

# Cells of the official NAS-Bench-101 dataset: (module hash, module_adjacency and
# module_operations as stored, trainable_parameters), from the 30-entry extract NASLib ships for
# its tests (tests/assets/nb101_dummy.pkl). Stored cells are the official representatives.
OFFICIAL = [
    (
        "ff940d27cbe9ed0a639a68a9c3f87283",
        "input,maxpool3x3,conv3x3-bn-relu,conv1x1-bn-relu,conv1x1-bn-relu,conv3x3-bn-relu,output:"
        "0110110/0000100/0001000/0000100/0000010/0000001/0000000",
        24169098,
    ),
    (
        "ff93a9089e93f6e49aafd192c574b7af",
        "input,conv3x3-bn-relu,maxpool3x3,conv1x1-bn-relu,conv1x1-bn-relu,conv3x3-bn-relu,output:"
        "0110000/0011100/0000001/0000001/0000010/0000001/0000000",
        2891201,
    ),
    (
        "ff94e7fdb042dd300a6e700d8b567697",
        "input,conv1x1-bn-relu,maxpool3x3,conv1x1-bn-relu,conv1x1-bn-relu,conv1x1-bn-relu,output:"
        "0100000/0010010/0001001/0000100/0000010/0000001/0000000",
        1488650,
    ),
    (
        "ff958f8d8f556448ff2a5973f17ff22a",
        "input,conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,maxpool3x3,output:"
        "011001/000011/000100/000011/000001/000000",
        2624049,
    ),
]
EXAMPLE = "input,conv3x3-bn-relu,maxpool3x3,output:0110/0001/0001/0000"


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _relabel(arch: str, perm: list[int]) -> str:
    """``arch`` with vertex ``v`` renamed ``perm[v]`` (any order, not only topological)."""
    cell = parse_cell(arch)
    n = cell.num_vertices
    ops = [""] * n
    for v, op in enumerate(cell.ops):
        ops[perm[v]] = op
    rows = [["0"] * n for _ in range(n)]
    for s, d in cell.edges:
        rows[perm[s]][perm[d]] = "1"
    return ",".join(ops) + ":" + "/".join("".join(r) for r in rows)


# ----------------------------------------------------------------------------- official data


@pytest.mark.parametrize(("digest", "arch", "params"), OFFICIAL)
def test_official_hash_representative_and_parameter_count(
    digest: str, arch: str, params: int
) -> None:
    assert SPACE.hash(arch) == digest
    assert SPACE.arch_info(arch) == {"hash": digest}
    assert SPACE.canonical(arch) == arch  # the dataset stores the official representative
    assert _params(SPACE.build(arch)) == params


def test_isomorphic_and_padded_cells_share_canonical_form_and_hash() -> None:
    digest, arch, _ = OFFICIAL[1]
    swapped = _relabel(arch, [0, 1, 2, 4, 3, 5, 6])  # vertices 3 and 4 are interchangeable
    assert swapped != arch and SPACE.canonical(swapped) == arch
    assert SPACE.hash(swapped) == digest
    # a vertex off every input-output path (only an in-edge) is pruned
    padded = "input,conv3x3-bn-relu,maxpool3x3,maxpool3x3,output:01110/00011/00001/00000/00000"
    assert SPACE.canonical(padded) == SPACE.canonical(EXAMPLE)
    assert SPACE.hash(padded) == SPACE.hash(EXAMPLE)
    # any acyclic vertex order is read: output written first, input last
    reversed_order = _relabel(EXAMPLE, [3, 2, 1, 0])
    with pytest.raises(InvalidArchError, match="first vertex must be 'input'"):
        SPACE.canonical(reversed_order)
    shuffled = _relabel(EXAMPLE, [0, 2, 1, 3])
    assert SPACE.canonical(shuffled) == SPACE.canonical(EXAMPLE)


def test_canonical_forms_and_hashes_are_the_same_partition_on_small_cells() -> None:
    """Every cell of up to 4 vertices, written every way: equal canonical strings exactly when
    equal hashes (NB101's hash has no collision in the space)."""
    by_canonical: dict[str, set[str]] = {}
    for n in range(2, 5):
        slots = [(i, j) for j in range(n) for i in range(j)]
        for bits in range(2 ** len(slots)):
            edges = frozenset(s for k, s in enumerate(slots) if bits >> k & 1)
            for labels in itertools.product(OPS, repeat=n - 2):
                arch = str(Cell(("input", *labels, "output"), edges))
                try:
                    cell = parse_cell(arch)
                except InvalidArchError:
                    continue
                by_canonical.setdefault(str(canonical_cell(cell)), set()).add(module_hash(cell))
    assert all(len(hashes) == 1 for hashes in by_canonical.values())
    assert len({h for hashes in by_canonical.values() for h in hashes}) == len(by_canonical)
    # by hand: input -> output; input -> op -> output with or without input -> output (2 x 3)
    assert sum(arch.count(",") <= 2 for arch in by_canonical) == 1 + 6


# ----------------------------------------------------------------------------- strings


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("garbage", "must be OPS:ADJ"),
        ("input,output:01/00:1", "must be OPS:ADJ"),
        ("input,conv3x3-bn-relu,output:010/001", "3 rows of 3"),
        ("input,conv3x3-bn-relu,output:010/0012/000", "3 rows of 3"),
        ("input,conv5x5,output:010/001/000", "unknown op 'conv5x5'"),
        ("conv3x3-bn-relu,input,output:010/001/000", "first vertex must be 'input'"),
        ("input:0", "2..7 vertices"),
        ("input," + "maxpool3x3," * 6 + "output:" + "/".join(["0" * 8] * 8), "2..7 vertices"),
        ("input,maxpool3x3,conv3x3-bn-relu,output:0100/0011/0100/0000", "cycle"),
        ("input,maxpool3x3,output:011/010/000", "cycle"),
        ("input,maxpool3x3,output:010/000/000", "no path from input to output"),
        (
            "input," + "conv3x3-bn-relu," * 5 + "output:"
            "0111111/0011111/0001111/0000111/0000011/0000001/0000000",
            "21 edges after pruning",
        ),
        ("(0, 1, 0, 0)", "n\\*n adjacency bits"),
        ("(0, 1, 0, 0, 0, 7)", "n\\*n adjacency bits"),
    ],
)
def test_malformed_strings_are_one_line_errors(arch: str, message: str) -> None:
    with pytest.raises(InvalidArchError, match=message) as info:
        SPACE.canonical(arch)
    assert "\n" not in str(info.value)


def test_naslib_tuple_is_read_as_string_and_key() -> None:
    # NASLib's test spec: 7x7 row-major, then op codes (0 input, 1 output, 2 maxpool3x3, ...)
    rows = ["0110110", "0000010", "0000010", "0000010", "0000001", "0000001", "0000000"]
    spec = (*(int(bit) for row in rows for bit in row), 0, 2, 4, 3, 3, 4, 1)
    assert SPACE.from_naslib(spec) == SPACE.from_naslib(str(spec)) == SPACE.canonical(str(spec))
    cell = parse_cell(spec)  # vertex 3 has no input: pruned
    assert cell.ops == (
        "input", "maxpool3x3", "conv3x3-bn-relu", "conv1x1-bn-relu", "conv3x3-bn-relu", "output"
    )  # fmt: skip
    assert (0, 3) in cell.edges and (4, 5) in cell.edges and len(cell.edges) == 8
    with pytest.raises(InvalidArchError, match="not a NASLib"):
        SPACE.from_naslib(EXAMPLE)


# ----------------------------------------------------------------------------- network


def test_thin_network_runs_on_any_image_size() -> None:
    model = THIN.build(OFFICIAL[0][1], num_classes=7)
    for size in (8, 9):
        assert model(torch.randn(2, 3, size, size)).shape == (2, 7)
    # the input -> output cell is one projection per cell
    lone = THIN.build("input,output:01/00")
    assert _params(lone) == (3 * 9 * 8 + 16) + (8 * 8 + 16) + (8 * 16 + 32) + (16 * 32 + 64) + 330


def test_te_nas_thin_network_gets_one_channel_per_output_vertex() -> None:
    arch = OFFICIAL[1][1]  # three vertices feed the output
    model = SPACE.build(arch, C=1, N=1, depth=1, stem=False, in_channels=1)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 1  # the input projection comes first in module order
    assert model(torch.randn(3, 1, 3, 3)).shape == (3, 10)
    assert model.classifier.in_features == 3


def test_sizes_are_validated() -> None:
    with pytest.raises(TrainfreeError, match="C must be a positive integer"):
        SPACE.build(EXAMPLE, C=0)
    with pytest.raises(TrainfreeError, match="has no size 'stem_channels'"):
        get_space("nb101[stem_channels=8]")


@pytest.mark.parametrize(
    "proxy", ["params", "flops", "synflow", "naswot", "snip", "meco", "intrain", "near"]
)
def test_proxies_run_on_thin_cells(proxy: str) -> None:
    config = ScoreConfig(dataset="synthetic", batch_size=8, image_size=8)
    values = [score_arch(THIN, arch, proxy, config).value for arch in (EXAMPLE, OFFICIAL[0][1])]
    assert all(math.isfinite(v) for v in values)
    assert values[0] != values[1]


# ----------------------------------------------------------------------------- sampling


def test_sample_draws_distinct_canonical_cells_reproducibly() -> None:
    archs = SPACE.sample(40, seed=3)
    assert archs == SPACE.sample(40, seed=3) and archs != SPACE.sample(40, seed=4)
    assert len({SPACE.hash(a) for a in archs}) == 40
    assert all(SPACE.canonical(a) == a for a in archs)
    assert SPACE.size() == SIZE
    with pytest.raises(TrainfreeError, match="can sample"):
        SPACE.sample(SIZE + 1)


def test_neighbours_and_mutate_change_one_thing_and_stay_valid() -> None:
    arch = EXAMPLE
    neighbours = SPACE.neighbours(arch)
    assert neighbours and arch not in neighbours
    assert len(set(neighbours)) == len(neighbours)
    assert all(SPACE.canonical(n) == n for n in neighbours)
    sizes = {parse_cell(n).num_vertices for n in neighbours}
    assert sizes == {3, 4, 5}  # pruning an edge shrinks, a new vertex grows the cell
    full = [parse_cell(n) for n in SPACE.neighbours(OFFICIAL[3][1])]  # 6 vertices, 9 edges
    assert max(c.num_vertices for c in full) == 6 and max(len(c.edges) for c in full) == 9
    rng = random.Random(0)
    assert all(SPACE.mutate(arch, rng) in neighbours for _ in range(5))
    grown = SPACE.neighbours("input,output:01/00")
    assert len(grown) == 3  # a new vertex input -> op -> output beside input -> output


# ----------------------------------------------------------------------------- tables


def _diamond(first: int, second: int) -> str:
    """NASLib's key of input -> (op, op) -> output with 4 vertices (16 bits, then 4 codes)."""
    rows = ["0110", "0001", "0001", "0000"]
    return str((*(int(bit) for row in rows for bit in row), 0, first, second, 1))


def test_table_merges_entries_of_one_cell(tmp_path: Path) -> None:
    data = {
        "nasbench101": {  # NASLib's NB101 file has this extra level
            "cifar10": {  # one cell written both ways round, then a distinct cell
                _diamond(2, 4): {"val_accuracy": 90.0, "synflow": 1.0},
                _diamond(4, 2): {"val_accuracy": 92.0},
                _diamond(2, 2): {"val_accuracy": 80.0, "synflow": 3.0},
            }
        }
    }
    path = tmp_path / "zc.json"
    path.write_text(json.dumps(data))
    table = load_benchmark(path, SPACE)
    assert len(table) == 2 and table.counts == [2, 1]
    assert table.values("cifar10/val_accuracy").tolist() == [91.0, 80.0]
    assert table.values("cifar10/synflow").tolist() == [1.0, 3.0]  # a missing value is skipped
    assert table.lookup(SPACE.from_naslib(_diamond(4, 2)), "cifar10/val_accuracy") == 91.0
    csv = tmp_path / "acc.csv"  # a CSV merges spellings of one cell the same way (quoted: commas)
    csv.write_text(f'arch,acc\n"{EXAMPLE}",1\n"{_relabel(EXAMPLE, [0, 2, 1, 3])}",3\n')
    merged = load_benchmark(csv, SPACE)
    assert merged.archs == [SPACE.canonical(EXAMPLE)] and merged.counts == [2]
    assert merged.lookup(EXAMPLE, "acc") == 2.0


def test_naslib_sample_loads_and_matches_naslib_parameter_counts(data_dir: Path) -> None:
    path = data_dir / "nb101" / "naslib_zc_nasbench101.json"
    table = load_benchmark(path, SPACE)
    assert len(table) == 292 and sum(table.counts) == 500
    entries = json.loads(path.read_text())["nasbench101"]["cifar10"]
    for key, entry in itertools.islice(entries.items(), 4):
        assert round(_params(SPACE.build(key)) / 1e6, 6) == entry["params"]
        assert SPACE.canonical(key) in table
