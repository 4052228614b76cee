"""The ``trainfree`` application: its commands and the entry point's exit codes.

Exit codes: 0 success; 1 when any requested score failed (after a summary line); 2 for a usage
error (unknown name, bad architecture, missing file: one line on stderr, never a traceback);
130 when interrupted (after ``interrupted: N of M scored, rerun the same command to resume``;
with ``--json``, ``score`` and ``correlate`` still print one document with what was done, the
searches print none).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from trainfree.cli import data, listing, mlp, reporting, scoring, searching
from trainfree.cli.output import Interrupted, ScoresFailed
from trainfree.errors import TrainfreeError


class _Flagless:
    """Help options shown without a value placeholder (typer prints ``--help <bool>``)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option


class Command(_Flagless, TyperCommand):
    pass


class Group(_Flagless, TyperGroup):
    pass


app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Training-free neural architecture search: score, correlate and search architectures.",
)
for command in (
    listing.spaces,
    listing.proxies,
    listing.searches,
    scoring.score,
    scoring.correlate,
    searching.search,
    searching.demo,
    reporting.report,
    data.data,
):
    app.command(cls=Command)(command)
app.add_typer(mlp.app, name="mlp", cls=Group)


def _warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (``warning: ...``), without a source line."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit codes of the module docstring."""
    try:
        code = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except ScoresFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 130
    except TrainfreeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors (typer's own click)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    return code if isinstance(code, int) else 0
