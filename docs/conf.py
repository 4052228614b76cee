"""Sphinx configuration: the API reference of trainfree's public names, from their docstrings.

Build (CI): ``sphinx-build -n -W --keep-going -b html docs build/docs``. ``-n`` (nitpicky) makes
every cross-reference to a ``trainfree`` name that is not documented here an error; references
to other libraries (torch, pandas, the standard library) are not checked, because the build
runs offline (no intersphinx inventories).
"""

from __future__ import annotations

from importlib.metadata import version as _version

project = "trainfree"
author = "the trainfree authors"
release = _version("trainfree")
version = release

extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|pandas|numpy|np|pathlib|collections\.abc|typing|random)(\..*)?"),
    (r"py:class", r"(Path|Any|Callable|Iterable|Iterator|Mapping|Sequence|nn\.Module)"),
]
