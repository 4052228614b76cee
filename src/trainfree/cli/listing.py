"""``trainfree spaces``, ``trainfree proxies`` and ``trainfree searches``: what is registered."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from trainfree.cli.options import AsJson
from trainfree.cli.output import print_json, print_rows, stdout

_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def short_citation(paper: str) -> str:
    """``"Zhou, Chen, Wu, ..., InTrain: ..., CVPR 2026"`` -> ``"Zhou et al. 2026"``: the first
    author (both of two), and the year of the main reference (before any parenthesis)."""
    main = paper.split("(")[0]
    parts = [p.strip() for p in main.split(",")]
    first = parts[0]
    second = parts[1] if len(parts) > 2 else ""
    if "&" not in first and "et al." not in first and (" " not in second or "&" in second):
        first += " et al." if second else ""
    years = _YEAR.findall(main)
    return f"{first} {years[-1]}" if years else first


NameArg = Annotated[
    str | None, typer.Argument(help="Show one in full (all options and the reference).")
]


def spaces(name: NameArg = None, as_json: AsJson = False) -> None:
    """List the search spaces (name, size, description)."""
    from trainfree.spaces import SPACES, get_space

    names = [name] if name else SPACES.names()
    rows = []
    for n in names:
        space = get_space(n)
        rows.append(
            {
                "name": space.name,
                "size": space.size(),
                "supernet": space.supernet is not None,
                "description": space.describe(),
            }
        )
    if as_json:
        print_json({"spaces": rows})
        return
    print_rows(
        ("name", "size", "description"),
        [(r["name"], f"{r['size']:,}" if r["size"] else "-", r["description"]) for r in rows],
        wide="description",
    )


def proxies(name: NameArg = None, as_json: AsJson = False) -> None:
    """List the proxies: name, higher is better, data, paper (full details: NAME or --json)."""
    from trainfree.proxies import PROXIES, get_proxy

    rows = [get_proxy(name).describe()] if name else [PROXIES.get(n).describe() for n in PROXIES]
    if as_json:
        print_json({"proxies": rows})
        return
    if name:
        console = stdout()
        for key, value in rows[0].items():
            console.print(f"{key}: {value}", markup=False)
        return
    print_rows(
        ("name", "better", "data", "paper"),
        [
            (r["name"], "higher" if r["higher_is_better"] else "lower", r["data_mode"],
             short_citation(r["paper"]))
            for r in rows
        ],
        wide="name",
    )


def searches(as_json: AsJson = False) -> None:
    """List the search algorithms: name, what they need, paper (options with --json)."""
    from trainfree.search import SEARCHES

    rows = [SEARCHES.get(n).describe() for n in SEARCHES]
    if as_json:
        print_json({"searches": rows})
        return
    print_rows(
        ("name", "needs", "paper"),
        [(r["name"], r["needs"], short_citation(r["paper"])) for r in rows],
        wide="name",
    )
