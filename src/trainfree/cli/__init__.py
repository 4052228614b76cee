"""The ``trainfree`` command line: one module per command group, shared options defined once
(:mod:`trainfree.cli.options`), no library logic (the commands call the library)."""

from trainfree.cli._warnings import one_line_warnings
from trainfree.cli.app import app, main

__all__ = ["app", "main", "one_line_warnings"]
