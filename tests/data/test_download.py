"""Checksum-verified download (``data/download.py``)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_files import _cifar10

import trainfree.data as data_pkg
from trainfree.data import (
    download_dataset,
    load_dataset,
    make_batch,
)
from trainfree.errors import TrainfreeError


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
