"""Download and safely extract the public CIFAR archives (checksum-verified, idempotent)."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

from trainfree.errors import TrainfreeError

from .datasets import DatasetInfo, find_dataset_dir, get_dataset_info

_CHUNK = 1 << 20
# Python >= 3.11.4 / 3.10.12 also applies tarfile's own "data" filter on top of our checks.
_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _fetch(url: str, md5: str, root: Path) -> Path:
    """Stream ``url`` into a temporary file in ``root``; delete it unless its md5 matches."""
    fd, name = tempfile.mkstemp(dir=root, prefix=".download-", suffix=".part")
    part = Path(name)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, ValueError) as exc:  # URLError is an OSError; ValueError: malformed url
        part.unlink(missing_ok=True)
        raise TrainfreeError(f"download of {url} failed: {exc}") from None
    if digest.hexdigest() != md5.lower():
        part.unlink()
        raise TrainfreeError(
            f"checksum mismatch for {url}: md5 {digest.hexdigest()}, expected {md5}; "
            "the download was deleted"
        )
    return part


def _check_member(member: tarfile.TarInfo, source: str) -> None:
    """Refuse absolute paths, ``..`` components, links and special files."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise TrainfreeError(
            f"refusing to extract {member.name!r} from {source}: "
            "absolute path, '..' or a non-regular file"
        )


def _extract(archive: Path, root: Path, source: str) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, source)
            tar.extractall(root, members=members, **_FILTER)
    except (tarfile.TarError, OSError) as exc:
        raise TrainfreeError(f"cannot extract the archive from {source}: {exc}") from None


def _no_download_error(info: DatasetInfo, root: Path) -> TrainfreeError:
    return TrainfreeError(
        f"{info.title} has no official direct download: get the 16x16 downsampled ImageNet "
        f"(Chrabaszcz et al., 2017) from image-net.org and put {', '.join(info.all_files)} "
        f"in {root / info.folder}"
    )


def download_dataset(
    name: str, root: str | Path, *, url: str | None = None, md5: str | None = None
) -> Path:
    """Download ``name``'s official archive into ``root`` and return the dataset folder.

    Does nothing when the folder is already complete. ``url`` / ``md5`` override the official
    address and checksum (mirrors, tests); an archive whose md5 differs is deleted and refused.
    """
    info = get_dataset_info(name)
    if info.folder is None:
        raise TrainfreeError(f"{info.title} is generated; there is nothing to download")
    root = Path(root)
    found = find_dataset_dir(info, root)
    if found is not None:
        return found
    url, md5 = url or info.url, md5 or info.md5
    if url is None:
        raise _no_download_error(info, root)
    if md5 is None:
        raise TrainfreeError(f"refusing to download {url} without an md5 checksum")
    root.mkdir(parents=True, exist_ok=True)
    archive = _fetch(url, md5, root)
    try:
        _extract(archive, root, url)
    finally:
        archive.unlink()
    found = find_dataset_dir(info, root)
    if found is None:
        raise TrainfreeError(f"the archive from {url} did not contain {info.folder}/ as expected")
    return found
