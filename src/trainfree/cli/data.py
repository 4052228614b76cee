"""``trainfree data``: what the data folder holds, and downloads of what has an official source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainfree.cli.options import AsJson, DataDir
from trainfree.cli.output import print_json, print_rows
from trainfree.errors import TrainfreeError


def data(
    data_dir: DataDir = None,
    download: Annotated[
        list[str] | None,
        typer.Option(help="Download this dataset's official archive (checksum-verified)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show which datasets and benchmark tables the data folder holds; download datasets.

    CIFAR-10 and CIFAR-100 download from their official address with an md5 check; benchmark
    tables have no single official file and are listed with where they are looked for.
    """
    from trainfree.data import DATASETS, default_data_dir, download_dataset, get_dataset_info
    from trainfree.data.datasets import find_dataset_dir
    from trainfree.spaces import SPACES

    root = data_dir or default_data_dir()
    if root is None:
        raise TrainfreeError("no data folder: set --data-dir DIR or TRAINFREE_DATA=DIR")
    for name in download or ():
        Path(root).mkdir(parents=True, exist_ok=True)
        download_dataset(get_dataset_info(name).name, root)
    rows = []
    for name in DATASETS.names():
        info = DATASETS.get(name)
        if info.folder is None:
            continue
        found = find_dataset_dir(info, root)
        rows.append(
            {
                "kind": "dataset",
                "name": name,
                "present": found is not None,
                "path": str(found or Path(root) / info.folder),
                "download": bool(info.url),
            }
        )
    tables: dict[str, tuple[str, list[str]]] = {}
    for space in SPACES.names():
        for path, target in SPACES.get(space).benchmarks.values():
            tables.setdefault(path, (space, []))[1].append(target)
    for path, (space, targets) in tables.items():
        rows.append(
            {
                "kind": f"{space} table",
                "name": ", ".join(dict.fromkeys(targets)),
                "present": (Path(root) / path).is_file(),
                "path": str(Path(root) / path),
                "download": False,
            }
        )
    if as_json:
        print_json({"data_dir": str(root), "items": rows})
        return
    print_rows(
        ("kind", "name", "present", "path"),
        [
            (r["kind"], r["name"], "yes" if r["present"] else
             ("no (trainfree data --download " + r["name"] + ")" if r["download"] else "no"),
             r["path"])
            for r in rows
        ],
        wide="path",
    )
