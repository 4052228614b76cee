"""What the report reads from a result store: scores per setting, failures, search runs.

A *setting* is everything a stored score depends on besides the architecture and the seed
(dataset, batch size, image size, class count, init, repeats, the proxy's keyword values). One
proxy scored under two settings becomes two columns (``synflow [dataset=cifar10]`` and
``synflow [dataset=synthetic]``), never an average of both; scores of one setting under several
seeds are averaged (the seeds are listed in the settings table).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trainfree.errors import TrainfreeError
from trainfree.proxies import get_proxy
from trainfree.run.store import ResultStore

#: Store columns that make a setting (the key without space, arch, proxy and seed).
SETTING = ("dataset", "batch_size", "image_size", "num_classes", "init", "repeats", "params")
#: How the settings table and column labels name them.
SETTING_NAMES = {
    "dataset": "data",
    "batch_size": "batch",
    "image_size": "image size",
    "num_classes": "classes",
    "init": "init",
    "repeats": "repeats",
    "params": "options",
}


def open_store(store_path: str | Path) -> ResultStore:
    """The store at ``store_path``; a missing file is a user mistake, not a new store."""
    if not Path(store_path).is_file():
        raise TrainfreeError(f"no result store at {store_path}")
    return ResultStore(store_path)


def store_space(store_path: str | Path, space: str | None = None) -> str:
    """The space whose scores a report shows: ``space`` if the store holds it, else the only one."""
    with open_store(store_path) as store:
        held = sorted({row["space"] for row in store.rows()})
    if space is not None and space not in held:
        raise TrainfreeError(f"{store_path} holds no scores of space {space!r}")
    if space is None and len(held) != 1:
        raise TrainfreeError(
            f"{store_path} holds no scores" if not held
            else f"{store_path} holds several spaces ({', '.join(held)}): choose one with --space"
        )  # fmt: skip
    return space or held[0]


def direction(proxy: str) -> float:
    """+1 when higher is better (or the proxy is not registered here), -1 when lower is better."""
    try:
        return 1.0 if get_proxy(proxy).higher_is_better else -1.0
    except TrainfreeError:
        return 1.0


def setting_text(field: str, value: object) -> str:
    """A setting's value as the report shows it (0 image size/classes: the dataset's own)."""
    if field in ("image_size", "num_classes") and not value:
        return "dataset's"
    if field == "params":
        groups = json.loads(str(value)).values()
        items = sorted(f"{k}={v}" for group in groups for k, v in group.items())
        return ", ".join(items) if items else "defaults"
    return str(value)


def _labels(rows: pd.DataFrame) -> pd.Series:
    """The column label of every row: its proxy, plus the setting fields that differ between
    that proxy's settings in the store (``synflow [data=cifar10, batch=64]``)."""
    labels = pd.Series(rows["proxy"], index=rows.index, dtype=object)
    for _, group in rows.groupby("proxy"):
        varying = [f for f in SETTING if group[f].nunique() > 1]
        if not varying:
            continue
        for index, row in group.iterrows():
            shown = ", ".join(f"{SETTING_NAMES[f]}={setting_text(f, row[f])}" for f in varying)
            labels[index] = f"{row['proxy']} [{shown}]"
    return labels


@dataclass(frozen=True)
class StoreView:
    """The scores of one space: ``scores`` is an architecture x column frame (means over
    seeds), ``signs`` orients each column (+1: higher is better), ``settings`` describes each
    column (one row per column label, with its median scoring ``seconds``), ``failures`` lists
    failure rows, ``rows`` holds every successful row with its column label."""

    space: str
    scores: pd.DataFrame
    signs: pd.Series
    settings: pd.DataFrame
    failures: pd.DataFrame
    rows: pd.DataFrame
    versions: tuple[str, ...]

    @property
    def oriented(self) -> pd.DataFrame:
        """``scores`` with lower-is-better columns negated: larger always means better."""
        return self.scores * self.signs


def read_view(store: ResultStore, space: str) -> StoreView:
    """Everything the report shows about ``space``'s scores in ``store``."""
    rows = pd.DataFrame(store.rows(space=space))
    rows["label"] = _labels(rows)
    ok = rows[rows["status"] == "ok"]
    failed = rows[rows["status"] != "ok"]
    scores = ok.pivot_table(index="arch", columns="label", values="value", aggfunc="mean")
    seconds = ok.pivot_table(index="arch", columns="label", values="seconds", aggfunc="mean")
    first = rows.drop_duplicates("label").set_index("label")
    settings = pd.DataFrame(
        {
            "proxy": first["proxy"],
            **{field: first[field] for field in SETTING},
            "seeds": rows.groupby("label")["seed"].agg(lambda s: sorted(set(s))),
            "devices": ok.groupby("label")["device"].agg(lambda s: sorted(set(s))),
            "archs": ok.groupby("label")["arch"].nunique(),
            "failures": failed.groupby("label")["arch"].nunique(),
            "seconds": seconds.median(),
        }
    )
    settings[["archs", "failures"]] = settings[["archs", "failures"]].fillna(0).astype(int)
    signs = pd.Series({label: direction(proxy) for label, proxy in settings["proxy"].items()})
    return StoreView(
        space=space,
        scores=scores,
        signs=signs.reindex(scores.columns),
        settings=settings,
        failures=failed[["arch", "proxy", "label", "error", "seconds"]],
        rows=ok,
        versions=tuple(sorted(set(rows["version"]))),
    )


@dataclass(frozen=True)
class Event:
    """One query of a search run: the architecture, the fitness it got then, its scores."""

    arch: str
    fitness: float | None
    scores: dict[str, float]


@dataclass(frozen=True)
class RunLog:
    """A recorded search run: its name, its queries in order and the objective it maximised
    (recorded with the events as ``objective``, else read from the run's name as written by
    ``trainfree search``: ``ALGO OBJECTIVE seed=S``; None when neither says) and its space
    (when recorded as ``space``)."""

    name: str
    events: list[Event]
    objective: str | None
    space: str | None = None


_RUN_NAME = re.compile(r"^\S+ (?P<objective>\S+) seed=-?\d+(?: #\d+)?$")


def read_runs(store: ResultStore) -> list[RunLog]:
    """The ``search`` trajectories in the store, events in query order."""
    events: dict[str, list[Event]] = {}
    objectives: dict[str, str | None] = {}
    spaces: dict[str, str | None] = {}
    for run, _, _, payload in store.events("search"):
        fitness = payload.get("fitness")
        scores = {k: float(v) for k, v in (payload.get("scores") or {}).items()}
        event = Event(payload["arch"], None if fitness is None else float(fitness), scores)
        events.setdefault(run, []).append(event)
        if run not in objectives:
            match = _RUN_NAME.match(run)
            objectives[run] = payload.get("objective") or (match and match["objective"])
            spaces[run] = payload.get("space")
    return [RunLog(run, events[run], objectives[run], spaces[run]) for run in events]
