"""``trainfree mlp ...``: NEAR layer sizing and activation/init choice for MLPs on tabular data.

Mounted by the main command line as ``trainfree mlp``. User mistakes raise
:class:`~trainfree.errors.TrainfreeError`, which the main entry point prints as one line.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trainfree.cli.options import AsJson
from trainfree.errors import TrainfreeError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Size MLP layers and choose activation/init with NEAR, without training.",
)

TabularDataset = Annotated[
    str, typer.Option("--dataset", help="digits|breast_cancer|wine or a CSV file.")
]
Target = Annotated[str | None, typer.Option(help="CSV label column (default: the last column).")]
Hidden = Annotated[str, typer.Option(help="Hidden widths of the MLP, comma-separated.")]
Repeats = Annotated[int, typer.Option(help="Network initialisations averaged per score.")]
Seed = Annotated[int, typer.Option(help="Seed for the split, the weights and the row order.")]


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise TrainfreeError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise TrainfreeError(f"{what} must be positive integers, got {text!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in text.split(",") if v.strip())


@app.command()
def size(
    dataset: TabularDataset,
    layer: Annotated[int, typer.Option(help="Which hidden layer to size (0-based).")] = 0,
    hidden: Hidden = "100",
    widths: Annotated[str, typer.Option(help="Candidate widths, comma-separated.")] = (
        "10,20,40,80,160,320,640,1280"
    ),
    activation: Annotated[str, typer.Option(help="Activation of every hidden layer.")] = "relu",
    init: Annotated[str, typer.Option(help="Weight initialisation scheme.")] = "default",
    repeats: Repeats = 5,
    threshold: Annotated[float, typer.Option(help="Slope threshold t of the fit.")] = 0.01,
    formula: Annotated[str, typer.Option(help="published (t^(1/(c-1))) or exact.")] = "published",
    plot: Annotated[Path | None, typer.Option(help="Save a PNG of the fit here.")] = None,
    target: Target = None,
    seed: Seed = 0,
    as_json: AsJson = False,
) -> None:
    """Estimate a hidden layer's width from the power-law fit of its relative NEAR score."""
    from trainfree.data.tabular import load_tabular
    from trainfree.sizing import estimate_layer_size, plot_fit

    data = load_tabular(dataset, seed=seed, target=target)
    estimate = estimate_layer_size(
        data,
        hidden=_ints(hidden, "hidden"),
        layer=layer,
        activation=activation.lower(),
        init=init.lower(),
        widths=_ints(widths, "widths"),
        repeats=repeats,
        threshold=threshold,
        formula=formula,
        seed=seed,
    )
    if plot is not None:
        plot_fit(estimate, plot)
    if as_json:
        print(json.dumps({"dataset": data.name, **estimate.as_json()}))
        return
    fit = estimate.fit
    table = Table("width", "relative NEAR score", "std", title=f"{data.name}: {estimate.arch}")
    rows = zip(estimate.widths, estimate.relative_scores, estimate.relative_stds, strict=True)
    for n, mean, std in rows:
        table.add_row(str(n), f"{mean:.4f}", f"{std:.4f}")
    console = Console()
    console.print(table)
    console.print(
        f"fit a + b n^c: a={fit.a:.4g} b={fit.b:.4g} c={fit.c:.4g}; "
        f"{fit.formula} estimate for layer {estimate.layer} (t={fit.threshold:g}): "
        f"[bold]{estimate.width}[/bold]"
    )


@app.command()
def select(
    dataset: TabularDataset,
    hidden: Hidden = "64,64",
    activations: Annotated[
        str | None, typer.Option(help="Activations to try, comma-separated (default: all).")
    ] = None,
    inits: Annotated[
        str | None, typer.Option(help="Initialisations to try, comma-separated (default: all).")
    ] = None,
    repeats: Repeats = 5,
    target: Target = None,
    seed: Seed = 0,
    as_json: AsJson = False,
) -> None:
    """Rank (activation, init) pairs of one MLP shape by NEAR, best first."""
    from trainfree.data.tabular import load_tabular
    from trainfree.init import INITS
    from trainfree.sizing import rank_activation_init
    from trainfree.spaces.mlp import ACTIVATIONS

    data = load_tabular(dataset, seed=seed, target=target)
    shape = _ints(hidden, "hidden")
    ranking = rank_activation_init(
        data,
        hidden=shape,
        activations=_names(activations) if activations else tuple(ACTIVATIONS),
        inits=_names(inits) if inits else tuple(INITS.names()),
        repeats=repeats,
        seed=seed,
    )
    rows = [asdict(r) for r in ranking]
    if as_json:
        print(json.dumps({"dataset": data.name, "hidden": list(shape), "results": rows}))
        return
    table = Table("rank", "activation", "init", "NEAR", "std", title=f"{data.name}: {shape}")
    for i, r in enumerate(ranking, 1):
        table.add_row(str(i), r.activation, r.init, f"{r.near_mean:.2f}", f"{r.near_std:.2f}")
    Console().print(table)
