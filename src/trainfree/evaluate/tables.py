"""Ground-truth tables: values per architecture, keyed by the space's canonical string.

Three formats are read (see ``load_benchmark``):

* a CSV with an ``arch`` column, like ``nb201_accuracy.csv``; every other numeric column is a
  target, named as in the header;
* a json of entries per architecture, ``{arch: {field: value}}`` (NAS-Bench-Macro's
  ``nas-bench-macro_cifar10.json``): every numeric field is a target;
* a NASLib zero-cost json (``zc_<space>.json`` of NAS-Bench-Suite-Zero, Krishnakumar et al.,
  2022): ``{dataset: {"(op, ...)": {"val_accuracy": x, "<proxy>": {"score": s, "time": t}}}}``.
  Targets are ``DATASET/FIELD`` (``cifar10/val_accuracy``; ``cifar10/synflow`` is the score) and
  ``DATASET/PROXY/time`` (NASLib's seconds to compute that score). Text fields (``idx``,
  ``arch``) are not targets. Architectures missing from one dataset read as NaN there. A file
  wrapped in one more level, ``{space: {dataset: ...}}`` (NASLib's ``zc_nasbench101.json``), is
  read the same way.

Entries that are one architecture (the same canonical string: two spellings of one NB201 cell,
isomorphic NB101 cells) are merged into one row, see :class:`BenchmarkTable`.
"""

from __future__ import annotations

import difflib
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trainfree.errors import TrainfreeError
from trainfree.spaces.base import SearchSpace

ARCH_COLUMN = "arch"


class BenchmarkTable:
    """Rows of named float targets (NaN where missing), one row per canonical architecture.

    Entries with the same canonical string are merged into one row, in the order each
    architecture first appears: every target is the mean of the entries' values that are not NaN
    (NaN when all are). Such entries are repeated measurements of one network (NASLib's
    NB101 sample holds 500 entries of 292 cells, whose accuracies come from different training
    seeds and whose scores from different initialisations), so the mean is the better estimate
    and no entry is dropped; a correlation then counts each architecture once. :attr:`counts`
    gives the number of entries merged into each row.
    """

    def __init__(
        self,
        archs: Sequence[str],
        columns: Mapping[str, Sequence[float] | np.ndarray],
        *,
        space: SearchSpace | None = None,
        source: str = "benchmark",
    ) -> None:
        entries: dict[str, list[int]] = {}
        for i, arch in enumerate(archs):
            entries.setdefault(arch, []).append(i)
        self.archs: list[str] = list(entries)
        #: Number of source entries merged into each row (aligned with :attr:`archs`).
        self.counts: list[int] = [len(rows) for rows in entries.values()]
        self.space = space
        self.source = source
        self._row: dict[str, int] = {arch: i for i, arch in enumerate(self.archs)}
        self._columns = {}
        for name, col in columns.items():
            values = np.asarray(col, dtype=float)
            if values.shape != (len(archs),):
                raise TrainfreeError(
                    f"{source}: target {name!r} has {values.size} values for {len(archs)} archs"
                )
            self._columns[name] = np.array([_mean(values[rows]) for rows in entries.values()])

    def __len__(self) -> int:
        return len(self.archs)

    def __contains__(self, arch: object) -> bool:
        """Whether the canonical string ``arch`` has a row (no canonicalisation here)."""
        return isinstance(arch, str) and arch in self._row

    def targets(self) -> list[str]:
        """Names accepted by :meth:`values` and :meth:`lookup`."""
        return list(self._columns)

    def _column(self, target: str) -> np.ndarray:
        if target in self._columns:
            return self._columns[target]
        close = difflib.get_close_matches(target, self._columns, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise TrainfreeError(
            f"unknown target {target!r} in {self.source} ({hint}"
            f"all {len(self._columns)}: {', '.join(self.targets())})"
        )

    def values(self, target: str) -> np.ndarray:
        """A copy of ``target`` aligned with :attr:`archs` (NaN where missing)."""
        return self._column(target).copy()

    def lookup(self, arch: str, target: str) -> float | None:
        """``target`` of ``arch`` (canonicalised by the table's space), ``None`` if absent."""
        column = self._column(target)
        row = self._row.get(self.space.canonical(arch) if self.space else arch)
        if row is None or math.isnan(column[row]):
            return None
        return float(column[row])

    def sample(self, n: int, seed: int = 0, *, target: str | None = None) -> list[str]:
        """``n`` distinct architectures drawn uniformly (seeded by ``seed``), in draw order.

        With ``target``, only rows that have a value for it are drawn.
        """
        pool = np.arange(len(self))
        if target is not None:
            pool = pool[~np.isnan(self._column(target))]
        if not 0 <= n <= len(pool):
            where = f" with a value for {target!r}" if target else ""
            raise TrainfreeError(
                f"cannot sample {n} architectures from {len(pool)} in {self.source}{where}"
            )
        chosen = np.random.default_rng(seed).choice(pool, size=n, replace=False)
        return [self.archs[i] for i in chosen]


def load_benchmark(path: str | Path, space: SearchSpace) -> BenchmarkTable:
    """Read a CSV with an ``arch`` column or a NASLib zero-cost json (detected by content)."""
    path = Path(path)
    text = _read_text(path)
    if text.lstrip().startswith("{"):
        return _from_naslib(text, path, space)
    return _from_csv(text, path, space)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise TrainfreeError(f"benchmark file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainfreeError(f"cannot read benchmark file {path}: {exc}") from None


def _from_csv(text: str, path: Path, space: SearchSpace) -> BenchmarkTable:
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={ARCH_COLUMN: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TrainfreeError(f"cannot parse {path} as CSV: {exc}".splitlines()[0]) from None
    if ARCH_COLUMN not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise TrainfreeError(f"{path} has no {ARCH_COLUMN!r} column (columns: {columns})")
    if frame.empty:
        raise TrainfreeError(f"{path} has no rows")
    archs = []
    for line, arch in enumerate(frame[ARCH_COLUMN], start=2):
        if not isinstance(arch, str):
            raise TrainfreeError(f"{path}, line {line}: no architecture string")
        try:
            archs.append(space.canonical(arch))
        except TrainfreeError as exc:
            raise TrainfreeError(f"{path}, line {line}: {exc}") from None
    columns = {
        str(name): frame[name].to_numpy(dtype=float)
        for name in frame.columns
        if name != ARCH_COLUMN and pd.api.types.is_numeric_dtype(frame[name])
    }
    return BenchmarkTable(archs, columns, space=space, source=str(path))


def _mean(values: np.ndarray) -> float:
    """Mean of the values that are not NaN; NaN when none is."""
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else math.nan


def _number(value: object) -> float | None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None


def _naslib_fields(dataset: str, field: str, value: object) -> Iterator[tuple[str, float]]:
    """Targets of one NASLib entry field: a number, or a ``{"score", "time"}`` record."""
    name = f"{dataset}/{field}"
    if isinstance(value, dict):
        for key, suffix in (("score", ""), ("time", "/time")):
            number = _number(value.get(key))
            if number is not None:
                yield name + suffix, number
    elif (number := _number(value)) is not None:
        yield name, number


def _from_naslib(text: str, path: Path, space: SearchSpace) -> BenchmarkTable:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainfreeError(f"cannot parse {path} as json: {exc}") from None
    if _flat(data):
        return _from_flat(data, path, space)
    if _space_level(data):
        (data,) = data.values()
    if not data or not all(
        isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
        for entries in data.values()
    ):
        raise TrainfreeError(
            f"{path} is not a NASLib zero-cost json ({{dataset: {{arch: {{field: value}}}}}})"
        )
    from_naslib = getattr(space, "from_naslib", None)
    if from_naslib is None:
        raise TrainfreeError(f"space {space.name!r} cannot read NASLib zero-cost json")
    canonical: dict[str, str] = {}  # NASLib key -> canonical string, shared by the datasets
    rows: dict[str, dict[str, float]] = {}  # one per NASLib key; the table merges equal archs
    for dataset, entries in data.items():
        for key, entry in entries.items():
            if key not in canonical:
                try:
                    canonical[key] = from_naslib(key)
                except TrainfreeError as exc:
                    raise TrainfreeError(f"{path}, {dataset} entry {key!r}: {exc}") from None
            row = rows.setdefault(key, {})
            for field, value in entry.items():
                row.update(_naslib_fields(dataset, field, value))
    names = sorted({name for row in rows.values() for name in row})
    columns = {name: [row.get(name, math.nan) for row in rows.values()] for name in names}
    archs = [canonical[key] for key in rows]
    return BenchmarkTable(archs, columns, space=space, source=str(path))


def _flat(data: object) -> bool:
    """Whether ``data`` is ``{arch: {field: number or list}}`` (NAS-Bench-Macro's json)."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(
            isinstance(e, dict) and e and not any(isinstance(v, dict) for v in e.values())
            for e in data.values()
        )
    )


def _from_flat(data: dict, path: Path, space: SearchSpace) -> BenchmarkTable:
    """A ``{arch: {field: value}}`` json: each numeric field is a target (lists, such as the
    per-run accuracies next to their mean, are not)."""
    archs = []
    for key in data:
        try:
            archs.append(space.canonical(key))
        except TrainfreeError as exc:
            raise TrainfreeError(f"{path}, entry {key!r}: {exc}") from None
    names = sorted({f for e in data.values() for f, v in e.items() if _number(v) is not None})
    columns = {
        name: [math.nan if (v := _number(e.get(name))) is None else v for e in data.values()]
        for name in names
    }
    return BenchmarkTable(archs, columns, space=space, source=str(path))


def _space_level(data: object) -> bool:
    """Whether ``data`` is ``{space: {dataset: {arch: entry}}}``: one key, and every value two
    levels below it is a dict that is not a ``{"score", "time"}`` record (a plain file holds
    entry fields there: numbers such as ``val_accuracy``, or such records)."""
    if not (isinstance(data, dict) and len(data) == 1):
        return False
    (datasets,) = data.values()
    if not isinstance(datasets, dict) or not all(isinstance(e, dict) for e in datasets.values()):
        return False
    below = [value for entries in datasets.values() for value in entries.values()]
    return bool(below) and all(
        isinstance(value, dict) and not set(value) <= {"score", "time"} for value in below
    )
