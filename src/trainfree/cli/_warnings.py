"""Warnings on the command line are one line on stderr (``warning: ...``), set up before the
library is imported so that a plugin failing to import (:func:`trainfree.registry.load_plugins`)
is reported that way too."""

from __future__ import annotations

import sys
import warnings


def one_line_warnings(message, category, filename, lineno, file=None, line=None) -> None:
    """A :func:`warnings.showwarning` that prints ``warning: MESSAGE`` and nothing else."""
    print(f"warning: {message}", file=sys.stderr)


warnings.showwarning = one_line_warnings
