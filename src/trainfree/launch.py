"""The ``trainfree`` console script: imports the command line lazily, so that an interrupt
while PyTorch and the registries load (several seconds on a busy machine) exits with 130 and
one line, as an interrupt of a running command does (:mod:`trainfree.cli.app`)."""

from __future__ import annotations

import sys


def main() -> int:
    """Import and run :func:`trainfree.cli.main`; 130 when interrupted while importing."""
    try:
        from trainfree.cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return cli_main()
