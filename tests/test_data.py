"""Data package: safe unpickling, dataset layouts, make_batch modes, checksum-verified download."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import trainfree.data as data_pkg
from trainfree.data import (
    DataMode,
    UnsafePickleError,
    default_data_dir,
    download_dataset,
    get_dataset_info,
    load_dataset,
    make_batch,
    safe_load,
)
from trainfree.errors import TrainfreeError

CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
IMAGENET16_TRAIN = [f"train_data_batch_{i}" for i in range(1, 11)]


def _write(path: Path, data: np.ndarray, labels: list[int], label_key: str = "labels") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"data": data, label_key: labels}, protocol=2))


def _cifar10(root: Path, per_file: int = 4) -> Path:
    """A CIFAR-10 folder whose image i (in train order) is the constant value i, label i % 10."""
    folder = root / "cifar-10-batches-py"
    for k, name in enumerate([*CIFAR10_TRAIN, "test_batch"]):
        ids = np.arange(k * per_file, (k + 1) * per_file)
        pixels = np.repeat(ids.astype(np.uint8)[:, None], 3072, axis=1)
        _write(folder / name, pixels, [int(i) % 10 for i in ids])
    return folder


# --- safe unpickling ---------------------------------------------------------------------------


def test_real_pickles_load_with_both_key_encodings(data_dir: Path) -> None:
    path = data_dir / "cifar" / "cifar-10-batches-py" / "data_batch_1"
    as_str, as_bytes = safe_load(path, encoding="latin1"), safe_load(path, encoding="bytes")
    assert {"data", "labels"} <= set(as_str) and set(as_str) == set(as_bytes)
    np.testing.assert_array_equal(as_str["data"], as_bytes["data"])
    assert as_str["data"].dtype == np.uint8 and as_str["data"].shape[1] == 3072


def test_bytes_keys_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": np.arange(6, dtype=np.uint8), b"labels": [1]}))
    loaded = safe_load(path, encoding="bytes")
    assert set(loaded) == {"data", "labels"}
    np.testing.assert_array_equal(loaded["data"], np.arange(6))


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


def test_pickle_naming_os_system_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(UnsafePickleError, match=r"refusing to load os\.system from .*data_batch_1"):
        safe_load(path)
    path.write_bytes(pickle.dumps({"data": _Evil(marker)}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"(__builtin__|builtins)\.eval"):
        safe_load(path)
    assert not marker.exists()


def test_codecs_encode_only_latin1(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(UnsafePickleError, match="rot13"):
        safe_load(path)


def test_corrupt_or_missing_file_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": np.zeros((4, 3072), np.uint8)}, protocol=2)[:-40])
    with pytest.raises(TrainfreeError, match="corrupt or truncated") as info:
        safe_load(path)
    assert not isinstance(info.value, UnsafePickleError) and "\n" not in str(info.value)
    with pytest.raises(TrainfreeError, match="cannot read"):
        safe_load(tmp_path / "absent")


# --- dataset layouts ---------------------------------------------------------------------------


def test_real_cifar10_and_cifar100(data_dir: Path) -> None:
    train = load_dataset("cifar10", data_dir, "train")
    assert train.images.shape == (5170, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and set(train.labels.tolist()) == set(range(10))
    assert len(load_dataset("cifar10", data_dir, "test")) == 1017
    c100 = load_dataset("cifar100", data_dir, "train")
    assert len(c100) == 486 and set(c100.labels.tolist()) <= set(range(100))
    assert len(load_dataset("cifar100", data_dir, "test")) == 916
    assert load_dataset("cifar10", data_dir, "train") is train  # cached per (name, root, split)


def test_cifar_planes_are_rgb_row_major(tmp_path: Path) -> None:
    pixels = np.concatenate([np.arange(1024) % 256 + c for c in range(3)]).astype(np.uint8)
    folder = tmp_path / "cifar" / "cifar-10-batches-py"  # the shared data's nesting
    for name in [*CIFAR10_TRAIN, "test_batch"]:
        _write(folder / name, pixels[None], [3])
    image = load_dataset("cifar10", tmp_path).images[0]
    expected = torch.arange(1024).remainder(256).view(32, 32)
    for channel in range(3):
        assert torch.equal(image[channel].long(), (expected + channel).remainder(256))
    assert torch.equal(load_dataset("cifar10", folder).images[0], image)  # the folder itself


def test_missing_folder_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TrainfreeError, match=r"CIFAR-10 not found under .*cifar-10-batches-py/.*"
                       r"TRAINFREE_DATA, or pass download=True\)"):  # fmt: skip
        make_batch("cifar10", batch_size=2, seed=0, data_dir=tmp_path)
    with pytest.raises(TrainfreeError, match="ImageNet16-120 not found") as info:
        load_dataset("imagenet16-120", tmp_path)
    assert "download=True" not in str(info.value)
    monkeypatch.delenv("TRAINFREE_DATA", raising=False)
    assert default_data_dir() is None
    with pytest.raises(TrainfreeError, match="needs a data folder"):
        make_batch("cifar100", batch_size=2, seed=0)
    monkeypatch.setenv("TRAINFREE_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    with pytest.raises(TrainfreeError, match="unknown split"):
        load_dataset("cifar10", tmp_path, "valid")


def test_imagenet16_layout(tmp_path: Path) -> None:
    folder = tmp_path / "ImageNet16"
    stored = [1, 120, 121, 1000, 60]  # 1-based; NB201 keeps labels <= 120
    for k, name in enumerate(IMAGENET16_TRAIN):
        _write(folder / name, np.full((5, 768), k, np.uint8), stored)
    _write(folder / "val_data", np.zeros((2, 768), np.uint8), [2, 500])
    train = load_dataset("imagenet16-120", tmp_path, "train")
    assert train.images.shape == (30, 3, 16, 16)
    assert train.labels.tolist() == [0, 119, 59] * 10
    assert load_dataset("imagenet16-120", tmp_path, "test").labels.tolist() == [1]
    batch = make_batch("imagenet16-120", batch_size=30, seed=1, data_dir=tmp_path)
    info = get_dataset_info("imagenet16-120")
    assert batch.inputs.shape == (30, 3, 16, 16) and batch.num_classes == 120
    values = batch.inputs[:, 0, 0, 0] * info.std[0] + info.mean[0]
    assert sorted(round(float(v) * 255) for v in values) == sorted(list(range(10)) * 3)
    _write(folder / "val_data", np.zeros((1, 768), np.uint8), [0])  # 0 is not a 1-based label
    with pytest.raises(TrainfreeError, match=r"outside 1\.\.1000"):
        load_dataset("imagenet16-120", tmp_path, "test")


def test_malformed_batch_is_refused(tmp_path: Path) -> None:
    folder = _cifar10(tmp_path)
    _write(folder / "test_batch", np.zeros((2, 100), np.uint8), [0, 1])
    with pytest.raises(TrainfreeError, match=r"expected uint8 data of shape \(2, 3072\)"):
        load_dataset("cifar10", tmp_path, "test")


# --- make_batch --------------------------------------------------------------------------------


def test_real_batch_is_normalised(data_dir: Path) -> None:
    batch = make_batch("cifar10", batch_size=256, seed=0, data_dir=data_dir)
    assert batch.inputs.shape == (256, 3, 32, 32) and batch.inputs.dtype == torch.float32
    assert batch.num_classes == 10 and set(batch.targets.tolist()) <= set(range(10))
    mean, std = batch.inputs.mean(dim=(0, 2, 3)), batch.inputs.std(dim=(0, 2, 3))
    assert torch.all(mean.abs() < 0.15) and torch.all((std - 1).abs() < 0.15)


def test_draw_is_seeded_and_without_replacement(tmp_path: Path) -> None:
    _cifar10(tmp_path, per_file=4)  # 20 train images, image i has constant value i
    info = get_dataset_info("cifar10")

    def values(seed: int, size: int) -> list[int]:
        batch = make_batch("cifar10", batch_size=size, seed=seed, data_dir=tmp_path)
        raw = batch.inputs[:, 0, 0, 0] * info.std[0] + info.mean[0]
        assert torch.equal(batch.targets, torch.round(raw * 255).long() % 10)
        return [round(float(v) * 255) for v in raw]

    assert sorted(values(3, 20)) == list(range(20))  # a full draw is a permutation
    assert values(3, 8) == values(3, 8)
    assert values(3, 8) != values(4, 8)
    with pytest.raises(TrainfreeError, match="batch size 21 exceeds the 20"):
        make_batch("cifar10", batch_size=21, seed=0, data_dir=tmp_path)


def test_resize_matches_bilinear_interpolation(data_dir: Path) -> None:
    full = make_batch("cifar10", batch_size=4, seed=5, data_dir=data_dir)
    small = make_batch("cifar10", batch_size=4, seed=5, data_dir=data_dir, image_size=16)
    assert small.inputs.shape == (4, 3, 16, 16) and torch.equal(small.targets, full.targets)
    expected = F.interpolate(full.inputs, size=(16, 16), mode="bilinear", align_corners=False)
    torch.testing.assert_close(small.inputs, expected, atol=1e-5, rtol=1e-5)


def test_num_classes_filters_labels(data_dir: Path, tmp_path: Path) -> None:
    batch = make_batch("cifar10", batch_size=64, seed=0, data_dir=data_dir, num_classes=3)
    assert batch.num_classes == 3 and int(batch.targets.max()) < 3
    assert len(set(batch.targets.tolist())) == 3
    folder = tmp_path / "cifar-10-batches-py"
    for name in [*CIFAR10_TRAIN, "test_batch"]:
        _write(folder / name, np.zeros((2, 3072), np.uint8), [5, 7])
    with pytest.raises(TrainfreeError, match="exceeds the 0 CIFAR-10 images with label < 2"):
        make_batch("cifar10", batch_size=1, seed=0, data_dir=tmp_path, num_classes=2)


def test_synthetic_batches(tmp_path: Path) -> None:
    batch = make_batch("synthetic", batch_size=512, seed=7)
    assert batch.inputs.shape == (512, 3, 32, 32) and batch.num_classes == 10
    assert set(batch.targets.tolist()) == set(range(10))
    assert abs(float(batch.inputs.mean())) < 0.01 and abs(float(batch.inputs.std()) - 1) < 0.01
    again = make_batch("synthetic", batch_size=512, seed=7)
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.targets, again.targets)
    assert not torch.equal(batch.inputs, make_batch("synthetic", batch_size=512, seed=8).inputs)
    # SYNTHETIC mode on a real dataset never touches the disk and keeps its classes / size
    other = make_batch("cifar100", batch_size=4, seed=0, mode="synthetic", data_dir=tmp_path / "x")
    assert other.inputs.shape == (4, 3, 32, 32) and other.num_classes == 100
    sized = make_batch("synthetic", batch_size=3, seed=0, image_size=8, num_classes=4)
    assert sized.inputs.shape == (3, 3, 8, 8) and int(sized.targets.max()) < 4


@pytest.mark.parametrize("mode", [DataMode.ONES, DataMode.FREE])
def test_ones_and_free(mode: DataMode, tmp_path: Path) -> None:
    batch = make_batch("imagenet16-120", batch_size=64, seed=0, mode=mode, data_dir=tmp_path)
    assert torch.equal(batch.inputs, torch.ones(1, 3, 16, 16))
    assert torch.equal(batch.targets, torch.zeros(1, dtype=torch.long)) and batch.num_classes == 120


def test_bad_arguments() -> None:
    with pytest.raises(TrainfreeError, match="unknown dataset"):
        make_batch("mnist", batch_size=1, seed=0)
    with pytest.raises(TrainfreeError, match="unknown data mode"):
        make_batch("synthetic", batch_size=1, seed=0, mode="noisy")
    with pytest.raises(TrainfreeError, match="batch-size must be at least 1"):
        make_batch("synthetic", batch_size=0, seed=0)


# --- download ----------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / "www"``."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(www))
    )
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    httpd.shutdown()
    httpd.server_close()


def _archive(path: Path, source: Path, extra: tarfile.TarInfo | None = None) -> str:
    """Tar.gz ``source`` (and an optional extra member) into ``path``; return its md5."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=source.name)
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_extracts_and_is_idempotent(server: tuple[str, Path], tmp_path: Path) -> None:
    base, www = server
    md5 = _archive(www / "c10.tar.gz", _cifar10(tmp_path / "src"))
    dest = tmp_path / "dest"
    folder = download_dataset("cifar10", dest, url=f"{base}/c10.tar.gz", md5=md5)
    assert folder == dest / "cifar-10-batches-py"
    assert sorted(p.name for p in dest.iterdir()) == ["cifar-10-batches-py"]  # no temp left
    assert len(load_dataset("cifar10", dest)) == 20
    (www / "c10.tar.gz").unlink()  # a second call must not fetch again
    assert download_dataset("cifar10", dest, url=f"{base}/c10.tar.gz", md5=md5) == folder


def test_download_checksum_mismatch_leaves_nothing(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = server
    _archive(www / "c10.tar.gz", _cifar10(tmp_path / "src"))
    dest = tmp_path / "dest"
    with pytest.raises(TrainfreeError, match="checksum mismatch"):
        download_dataset("cifar10", dest, url=f"{base}/c10.tar.gz", md5="0" * 32)
    assert list(dest.iterdir()) == []
    with pytest.raises(TrainfreeError, match=r"download of .* failed"):
        download_dataset("cifar10", dest, url=f"{base}/absent.tar.gz", md5="0" * 32)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil-abs", "cifar-10-batches-py/link"])
def test_download_refuses_unsafe_members(
    name: str, server: tuple[str, Path], tmp_path: Path
) -> None:
    base, www = server
    member = tarfile.TarInfo(name)
    if name.endswith("link"):
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        member.size = 4
    md5 = _archive(www / "bad.tar.gz", _cifar10(tmp_path / "src"), member)
    dest = tmp_path / "dest"
    with pytest.raises(TrainfreeError, match="refusing to extract"):
        download_dataset("cifar10", dest, url=f"{base}/bad.tar.gz", md5=md5)
    assert not (tmp_path / "evil").exists() and list(dest.iterdir()) == []


def test_download_without_official_link(tmp_path: Path) -> None:
    with pytest.raises(TrainfreeError, match=r"no official direct download.*val_data"):
        download_dataset("imagenet16-120", tmp_path)
    with pytest.raises(TrainfreeError, match="generated"):
        download_dataset("synthetic", tmp_path)


def test_make_batch_download_triggers_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Path]] = []

    def fake_download(name: str, root: Path) -> Path:
        calls.append((name, Path(root)))
        return _cifar10(Path(root))

    monkeypatch.setattr(data_pkg, "download_dataset", fake_download)
    batch = make_batch("cifar10", batch_size=5, seed=0, data_dir=tmp_path, download=True)
    assert len(batch) == 5 and calls == [("cifar10", tmp_path)]
    make_batch("cifar10", batch_size=5, seed=0, data_dir=tmp_path, download=True)
    assert len(calls) == 1  # present now: no second download
