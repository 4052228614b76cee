"""The SQLite result store: one row per (space, arch, proxy, data, init, seed, repeats, params).

Rows are committed as each score finishes (WAL journal), so a killed run loses nothing already
scored and a re-run skips what is present. Several processes may write one store.

``params`` is the proxy's :meth:`~trainfree.proxies.base.ProxySpec.fingerprint` (its keyword
values and network-size overrides): a proxy whose default changed in a later version is scored
anew rather than read back. A store written before that column existed keeps its rows in the
table ``scores_without_params``, which nothing reads.
"""

from __future__ import annotations

import csv
import gzip
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trainfree import __version__
from trainfree.errors import TrainfreeError
from trainfree.run.scoring import ResolvedConfig, ScoreResult

KEY = (
    "space",
    "arch",
    "proxy",
    "dataset",
    "batch_size",
    "image_size",
    "num_classes",
    "init",
    "seed",
    "repeats",
    "params",
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS scores (
    space TEXT NOT NULL, arch TEXT NOT NULL, proxy TEXT NOT NULL, dataset TEXT NOT NULL,
    batch_size INTEGER NOT NULL, image_size INTEGER NOT NULL, num_classes INTEGER NOT NULL,
    init TEXT NOT NULL, seed INTEGER NOT NULL, repeats INTEGER NOT NULL, params TEXT NOT NULL,
    status TEXT NOT NULL, value REAL, std REAL, "values" TEXT, seconds REAL, error TEXT,
    device TEXT, version TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY ({", ".join(KEY)})
);
CREATE TABLE IF NOT EXISTS events (
    run TEXT NOT NULL, kind TEXT NOT NULL, step INTEGER NOT NULL, payload TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredScore:
    """A row of the store: a score or a failure record."""

    space: str
    arch: str
    proxy: str
    config: ResolvedConfig
    status: str
    value: float | None
    std: float | None
    seconds: float | None
    error: str | None

    def as_result(self) -> ScoreResult:
        if self.status != "ok" or self.value is None:
            raise TrainfreeError(f"{self.proxy} on {self.arch} failed: {self.error}")
        return ScoreResult(
            self.arch, self.proxy, self.value, self.std or 0.0, self.seconds or 0.0, self.config
        )


def _key(space: str, arch: str, proxy: str, config: ResolvedConfig) -> tuple:
    # SQLite treats NULLs as distinct in primary keys, so "dataset default" is stored as 0.
    return (
        space,
        arch,
        proxy,
        config.dataset,
        config.batch_size,
        config.image_size or 0,
        config.num_classes or 0,
        config.init,
        config.seed,
        config.repeats,
        config.params,
    )


class ResultStore:
    """A SQLite file of scores; ``ResultStore(":memory:")`` for a throw-away one."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._set_up()
        except sqlite3.DatabaseError as exc:
            raise TrainfreeError(f"cannot open result store {self.path}: {exc}") from exc

    def _set_up(self) -> None:
        """Create the tables; move the rows of a store from before ``params`` out of the way."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(scores)")}
            if columns and "params" not in columns:
                self._db.execute("ALTER TABLE scores RENAME TO scores_without_params")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, space: str, arch: str, proxy: str, config: ResolvedConfig) -> StoredScore | None:
        where = " AND ".join(f"{k} = ?" for k in KEY)
        row = self._db.execute(
            f"SELECT status, value, std, seconds, error FROM scores WHERE {where}",
            _key(space, arch, proxy, config),
        ).fetchone()
        if row is None:
            return None
        return StoredScore(space, arch, proxy, config, *row)

    def put(self, space: str, result: ScoreResult, *, device: str = "cpu") -> None:
        """Record a finished score (replacing an earlier failure of the same key)."""
        self._write(
            space,
            result.arch,
            result.proxy,
            result.config,
            "ok",
            result.value,
            result.std,
            json.dumps(list(result.values)),
            result.seconds,
            None,
            device,
        )

    def put_failure(
        self, space: str, arch: str, proxy: str, config: ResolvedConfig, error: str, seconds: float
    ) -> None:
        """Record that (arch, proxy) failed, so a run can list failures and move on."""
        self._write(space, arch, proxy, config, "failed", None, None, None, seconds, error, None)

    def _write(
        self, space: str, arch: str, proxy: str, config: ResolvedConfig, *row: object
    ) -> None:
        columns = (
            *KEY,
            "status",
            "value",
            "std",
            '"values"',
            "seconds",
            "error",
            "device",
            "version",
            "created",
        )
        marks = ", ".join("?" * len(columns))
        self._db.execute(
            f"INSERT OR REPLACE INTO scores ({', '.join(columns)}) VALUES ({marks})",
            (*_key(space, arch, proxy, config), *row, __version__, time.time()),
        )

    def rows(self, *, space: str | None = None, status: str | None = None) -> Iterator[dict]:
        """All rows as dictionaries, optionally filtered."""
        query, args = "SELECT * FROM scores", []
        conditions = [(c, v) for c, v in (("space", space), ("status", status)) if v is not None]
        if conditions:
            query += " WHERE " + " AND ".join(f"{c} = ?" for c, _ in conditions)
            args = [v for _, v in conditions]
        cursor = self._db.execute(query + " ORDER BY created", args)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def export_csv(self, path: str | Path) -> int:
        """Write every score row (failures too) to ``path``, a CSV file (gzip-compressed when
        the name ends in ``.gz``), sorted by key so that a grown store gives a small diff; returns
        the row count. Floats are written exactly (``repr``)."""
        cursor = self._db.execute(f"SELECT * FROM scores ORDER BY {', '.join(KEY)}")
        names = [d[0] for d in cursor.description]
        count = 0
        with _open_text(path, "w") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(names)
            for row in cursor:
                writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v
                                 for v in row])  # fmt: skip
                count += 1
        return count

    def import_csv(self, path: str | Path) -> int:
        """Add the rows of a CSV written by :meth:`export_csv`; a key already present keeps
        this store's row. Returns the number of rows added."""
        types = {row[1]: row[2] for row in self._db.execute("PRAGMA table_info(scores)")}
        convert = {"INTEGER": int, "REAL": float, "TEXT": str}
        try:
            with _open_text(path, "r") as handle:
                reader = csv.DictReader(handle)
                header = reader.fieldnames or []
                if set(header) != set(types):
                    raise TrainfreeError(f"{path} is not an exported result store (its columns "
                                         f"differ from the store's)")  # fmt: skip
                rows = [
                    tuple(None if row[c] == "" else convert[types[c]](row[c]) for c in header)
                    for row in reader
                ]
        except (OSError, ValueError, csv.Error) as exc:
            raise TrainfreeError(f"cannot read exported results {path}: {exc}") from exc
        columns = ", ".join(f'"{c}"' for c in header)
        before = self._db.total_changes
        self._db.execute("BEGIN IMMEDIATE")  # one transaction, not one per row
        try:
            self._db.executemany(
                f"INSERT OR IGNORE INTO scores ({columns}) VALUES ({', '.join('?' * len(header))})",
                rows,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return self._db.total_changes - before

    def add_events(self, run: str, kind: str, payloads: Iterable[dict]) -> None:
        """Append a run's trajectory (for example a search's history) for reports."""
        with self._db:
            self._db.executemany(
                "INSERT INTO events (run, kind, step, payload) VALUES (?, ?, ?, ?)",
                [(run, kind, i, json.dumps(p)) for i, p in enumerate(payloads)],
            )

    def events(self, kind: str | None = None) -> Iterator[tuple[str, str, int, dict]]:
        query = "SELECT run, kind, step, payload FROM events"
        args: list = []
        if kind is not None:
            query, args = query + " WHERE kind = ?", [kind]
        for run, k, step, payload in self._db.execute(query + " ORDER BY run, step", args):
            yield run, k, step, json.loads(payload)


def _open_text(path: str | Path, mode: str):
    """A text handle on ``path``, through gzip when it ends in ``.gz``."""
    if str(path).endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")
