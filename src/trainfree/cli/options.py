"""The command line's shared options, defined once.

Options come in groups (:class:`DataOptions`: what a score depends on; :class:`RunOptions`: how
and where it runs). A command takes a group as one parameter annotated with the group's class;
:func:`expand_groups` replaces it, for typer, by the group's fields as options and hands the
command the filled-in group object.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from trainfree.errors import TrainfreeError
from trainfree.run.scoring import ScoreConfig

F = TypeVar("F", bound=Callable[..., Any])

Dataset = Annotated[
    str,
    typer.Option(
        help="cifar10|cifar100|imagenet16-120|imagefolder|synthetic, or tabular: "
        "digits|breast_cancer|wine|FILE.csv"
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Dataset folder (default: $TRAINFREE_DATA).", show_default=False),
]
NumClasses = Annotated[int | None, typer.Option(help="Override the dataset's class count.")]
ImageSize = Annotated[int | None, typer.Option(help="Resize inputs to SxS.")]
BatchSize = Annotated[int | None, typer.Option(help="Batch size (default: each proxy's own).")]
Repeats = Annotated[int | None, typer.Option(help="Repeats per score (default: each proxy's).")]
Seed = Annotated[int, typer.Option(help="Seed for sampling, initialisation and data.")]
Device = Annotated[str, typer.Option(help="cpu or cuda.")]
MemoryFormat = Annotated[
    str,
    typer.Option(
        help="Layout of 4-D inputs: auto (each proxy's fastest), channels_last or contiguous."
    ),
]
Init = Annotated[str | None, typer.Option(help="Initialisation scheme (default: each proxy's).")]
Workers = Annotated[int, typer.Option(help="Worker processes (1 = in-process).")]
ExecutorName = Annotated[str, typer.Option("--executor", help="local or ray.")]
RayAddress = Annotated[
    str | None,
    typer.Option(
        help="Join this Ray cluster (with --executor ray); its token is read from "
        "RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token."
    ),
]
TimeLimit = Annotated[
    float | None,
    typer.Option(help="Seconds allowed per (architecture, proxies) task; runs it in a worker."),
]
StorePath = Annotated[
    Path | None, typer.Option("--store", help="SQLite store; a rerun skips what is scored.")
]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress output.", metavar="")]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout.", metavar="")
]
ProxyNames = Annotated[str, typer.Option("--proxy", help="Comma-separated proxy names or 'all'.")]
ArchsFile = Annotated[Path | None, typer.Option("--archs", help="File with one arch per line.")]
Sample = Annotated[int | None, typer.Option("--sample", help="Score N sampled architectures.")]
Benchmark = Annotated[
    Path | None, typer.Option(help="CSV with an arch column or NASLib zc json (with --target).")
]
Target = Annotated[
    str | None, typer.Option(help="Benchmark column, or DATASET/FIELD for NASLib json.")
]


@dataclass
class DataOptions:
    """What a score depends on besides the architecture and the proxy (:class:`ScoreConfig`)."""

    dataset: Dataset = "cifar10"
    data_dir: DataDir = None
    num_classes: NumClasses = None
    image_size: ImageSize = None
    batch_size: BatchSize = None
    repeats: Repeats = None
    seed: Seed = 0
    device: Device = "cpu"
    memory_format: MemoryFormat = "auto"
    init: Init = None

    def config(self) -> ScoreConfig:
        """The validated :class:`ScoreConfig` (one-line errors for unknown names, folders)."""
        from trainfree.data import default_data_dir, get_dataset_info
        from trainfree.data.tabular import is_tabular
        from trainfree.init import INITS

        if not is_tabular(self.dataset):
            get_dataset_info(self.dataset)
        if self.init is not None:
            INITS.get(self.init)
        data_dir = self.data_dir or default_data_dir()
        if data_dir is not None and not data_dir.is_dir() and self.dataset != "synthetic":
            raise TrainfreeError(f"data folder {data_dir} does not exist")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return ScoreConfig(**{**values, "data_dir": data_dir})

    def given(self) -> dict[str, Any]:
        """The options set to something other than their default."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != f.default
        }


@dataclass
class RunOptions:
    """How scores are computed and kept: executor, store, output."""

    workers: Workers = 1
    executor: ExecutorName = "local"
    ray_address: RayAddress = None
    time_limit: TimeLimit = None
    store: StorePath = None
    quiet: Quiet = False
    as_json: AsJson = False

    def make_executor(self) -> Any:
        from trainfree.run.executors import make_executor

        return make_executor(
            self.executor,
            workers=self.workers,
            address=self.ray_address,
            time_limit=self.time_limit,
        )


GROUPS = (DataOptions, RunOptions)


def expand_groups(fn: F) -> F:
    """Let typer see each option group parameter of ``fn`` as the group's fields.

    A parameter annotated with a class of :data:`GROUPS` becomes that class's fields (keyword
    options, same names, help and defaults); the wrapper rebuilds the group object before
    calling ``fn``. Field names must not clash with ``fn``'s other parameters.
    """
    hints = get_type_hints(fn, include_extras=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, type] = {}
    for name, param in inspect.signature(fn).parameters.items():
        kind = hints.get(name)
        if kind in GROUPS:
            groups[name] = kind
            field_hints = get_type_hints(kind, include_extras=True)
            params.extend(
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                    annotation=field_hints[f.name],
                )
                for f in fields(kind)
            )
        else:
            annotation = hints.get(name, param.annotation)
            params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    names = [p.name for p in params]
    if len(names) != len(set(names)):
        raise ValueError(f"{fn.__name__}: an option group field clashes with a parameter")

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        for name, kind in groups.items():
            kwargs[name] = kind(**{f.name: kwargs.pop(f.name) for f in fields(kind)})
        return fn(**kwargs)

    del wrapper.__wrapped__  # typer must read the expanded signature, not fn's
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]
