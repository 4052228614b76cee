"""The command line: JSON contract and one-line errors with non-zero exits."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

from trainfree.cli import main

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


def test_spaces_and_proxies_json(capsys):
    code, out, _ = _run(capsys, "spaces", "--json")
    assert code == 0
    assert "nb201" in {s["name"] for s in json.loads(out)["spaces"]}
    code, out, _ = _run(capsys, "proxies", "--json")
    rows = {p["name"]: p for p in json.loads(out)["proxies"]}
    assert rows["synflow"]["higher_is_better"] is True
    assert {"name", "higher_is_better", "data_mode", "paper"} <= set(rows["params"])
    assert rows["intrain"]["options"] == {"layers": "blocks", "eps": 1e-10}  # for intrain[k=v]


def test_score_json_contract(capsys):
    code, out, _ = _run(
        capsys,
        "score",
        "nb201",
        ARCH,
        "--proxy",
        "params,flops",
        "--dataset",
        "synthetic",
        "--json",
        "--quiet",
    )
    assert code == 0
    results = json.loads(out)["results"]
    assert {(r["arch"], r["proxy"]) for r in results} == {(ARCH, "params"), (ARCH, "flops")}
    assert all({"arch", "proxy", "value", "seconds"} <= set(r) for r in results)
    params = next(r["value"] for r in results if r["proxy"] == "params")
    assert params > 1e5


def test_malformed_arch(capsys):
    code, _, err = _run(
        capsys, "score", "nb201", "|conv9~0|", "--proxy", "params", "--dataset", "synthetic"
    )
    _one_line_error(code, err)


def test_unknown_proxy(capsys):
    code, _, err = _run(
        capsys, "score", "nb201", ARCH, "--proxy", "nosuchproxy", "--dataset", "synthetic"
    )
    _one_line_error(code, err, "nosuchproxy")


def test_unknown_space(capsys):
    code, _, err = _run(capsys, "score", "nosuchspace", ARCH, "--proxy", "params")
    _one_line_error(code, err, "nosuchspace")


def test_missing_data_folder(capsys, tmp_path):
    code, _, err = _run(
        capsys, "score", "nb201", ARCH, "--proxy", "naswot", "--data-dir", str(tmp_path / "nowhere")
    )
    _one_line_error(code, err, "nowhere")


def test_empty_data_folder(capsys, tmp_path):
    code, _, err = _run(
        capsys, "score", "nb201", ARCH, "--proxy", "naswot", "--data-dir", str(tmp_path), "--quiet"
    )
    _one_line_error(code, err, "CIFAR-10")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_malicious_pickle_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ]:
        (folder / name).write_bytes(pickle.dumps({"data": _Evil(), "labels": [0]}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainfree.cli",
            "score",
            "nb201",
            ARCH,
            "--proxy",
            "naswot",
            "--data-dir",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert not (tmp_path / "pwned").exists()
    _one_line_error(proc.returncode, proc.stderr, "system")


@pytest.mark.parametrize(
    "args",
    [
        ["score", "nb201", "--proxy", "params"],
        ["score", "nb201", ARCH, "--sample", "3", "--proxy", "params"],
    ],
)
def test_exactly_one_arch_source(capsys, args):
    code, _, err = _run(capsys, *args, "--dataset", "synthetic")
    _one_line_error(code, err, "exactly one")


def test_proxy_variants_score_under_their_own_name(capsys):
    """``name[key=value,...]`` changes a proxy's keyword defaults; it is scored and reported under
    its canonical name, next to the plain proxy and inside an ensemble."""
    proxies = "intrain_pr[layers=relu],intrain_pr,ensemble:intrain_pr[layers=relu]+params"
    code, out, _ = _run(
        capsys, "score", "nb201", ARCH, "--proxy", proxies, "--dataset", "synthetic",
        "--image-size", "16", "--batch-size", "4", "--json", "--quiet",
    )  # fmt: skip
    assert code == 0
    values = {r["proxy"]: r["value"] for r in json.loads(out)["results"]}
    assert set(values) == {
        "intrain_pr[layers=relu]", "intrain_pr", "params",
        "ensemble:intrain_pr[layers=relu]+params",
    }  # fmt: skip
    assert values["intrain_pr[layers=relu]"] != values["intrain_pr"]


@pytest.mark.parametrize(
    ("proxy", "needle"),
    [
        ("intrain[layer=blocks]", "no parameter 'layer'"),
        ("tenas_ntk[max_condition=big]", "expected a float"),
        ("tenas_lr[spatial_only=maybe]", "expected true or false"),
        ("intrain[]", "empty parameter list"),
        ("naswot[batch_size=0]", "positive integer"),
        ("naswot[repeats=two]", "expected a int"),
    ],
)
def test_bad_proxy_variant(capsys, proxy, needle):
    code, _, err = _run(capsys, "score", "nb201", ARCH, "--proxy", proxy, "--quiet")
    _one_line_error(code, err, needle)


def test_correlate_samples_only_architectures_with_the_target(capsys, tmp_path):
    from trainfree.spaces import get_space

    archs = get_space("nb201").sample(8, seed=1)
    rows = [f"{a},{'' if i % 2 else 80 + i}" for i, a in enumerate(archs)]  # every other missing
    table = tmp_path / "acc.csv"
    table.write_text("arch,acc\n" + "\n".join(rows) + "\n")
    for seed in ("0", "1", "2"):
        code, out, _ = _run(
            capsys, "correlate", "nb201", "--benchmark", str(table), "--target", "acc",
            "--sample", "4", "--seed", seed, "--proxy", "params", "--json", "--quiet",
        )  # fmt: skip
        assert code == 0 and json.loads(out)["n"] == 4
