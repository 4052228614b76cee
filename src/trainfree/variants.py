"""``name[key=value,...]``: variants of registered proxies and spaces.

A variant names a registered object with some of its keyword defaults replaced, for example
``intrain[layers=relu]`` (a proxy) or ``nb201[C=4,N=1]`` (a space whose networks are built
thinner). Its canonical form lists the keys sorted, so equal variants share one name (the name
their scores are stored under).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from typing import Any

from trainfree.errors import TrainfreeError

_VARIANT = re.compile(r"^(?P<base>[A-Za-z0-9_]+)\[(?P<args>[^\[\]]*)\]$")


def split_names(text: str) -> list[str]:
    """Split a comma-separated list of names, keeping the commas inside ``[...]`` (variants)."""
    return [part.strip() for part in re.split(r",(?![^\[]*\])", text) if part.strip()]


def split_variant(name: str) -> tuple[str, str | None]:
    """``"base[args]"`` -> ``("base", "args")``; a plain name -> ``(name, None)``."""
    match = _VARIANT.match(name.strip())
    return (name.strip(), None) if match is None else (match["base"], match["args"])


def assignments(args: str) -> Iterator[tuple[str, str, bool]]:
    """``"a=1, b=x"`` -> ``(key, text, has_equals_sign)`` per non-empty item."""
    for item in (a for a in args.split(",") if a.strip()):
        key, sep, text = item.partition("=")
        yield key.strip(), text, bool(sep)


def parse_value(kind: str, key: str, text: str, default: Any) -> Any:
    """``text`` as the type of ``default`` (Python literal syntax when the default is ``None``).

    ``kind`` names what is being set (``"proxy parameter"``) in the one-line error.
    """
    text = text.strip()
    if isinstance(default, bool) or text.lower() in ("true", "false"):
        if text.lower() not in ("true", "false"):
            raise TrainfreeError(f"{kind} {key}={text!r}: expected true or false")
        return text.lower() == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(default, float) and isinstance(value, int):
        value = float(value)
    if default is not None and not isinstance(value, type(default)):
        raise TrainfreeError(f"{kind} {key}={text!r}: expected a {type(default).__name__}")
    return value


def variant_name(base: str, values: Mapping[str, Any]) -> str:
    """The canonical name ``base[k=v,...]`` (keys sorted, booleans lowercase)."""
    shown = ",".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in sorted(values.items())
    )
    return f"{base}[{shown}]"
