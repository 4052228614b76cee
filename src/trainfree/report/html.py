"""HTML building blocks of the report: escaped tables (sortable by a click on a header), figures
with captions, and the page shell with its inline style and script.

The page needs nothing from outside: images are data URIs and its Content-Security-Policy
forbids any other source, so a page that would reach out fails loudly in a browser.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trainfree.report.plots import Png


@dataclass(frozen=True)
class Cell:
    """A table cell: ``text`` (escaped), an optional numeric sort ``key``, ``code`` to show it
    as code (architecture strings, which may break anywhere)."""

    text: str
    key: float | None = None
    code: bool = False


def number(value: float | int | None, fmt: str = "{:.3g}") -> Cell:
    """A numeric cell (``–`` for a missing value, which sorts as text)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return Cell("–")
    return Cell(fmt.format(value), float(value))


def code(text: str) -> Cell:
    return Cell(text, code=True)


_BREAKS = re.compile(r"([_:+,/\]])")


def _breakable(text: str) -> str:
    """``text`` escaped, allowed to wrap after ``_ : + , / ]``, so that names such as
    ``cifar10_test_200ep`` or ``ensemble[azlog]:meco+synflow`` fit a narrow column."""
    return _BREAKS.sub(r"\1<wbr>", html.escape(text))


def _td(cell: Cell | str) -> str:
    cell = cell if isinstance(cell, Cell) else Cell(str(cell))
    if cell.code:
        return f"<td><code>{html.escape(cell.text)}</code></td>"
    if cell.key is not None:
        return f'<td class="num" data-key="{cell.key!r}">{html.escape(cell.text)}</td>'
    return f"<td>{_breakable(cell.text)}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell | str]]) -> str:
    """A table in its own scroll box, sortable by clicking a header."""
    head = "".join(f"<th>{_breakable(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in rows)
    return (
        '<div class="scroll"><table class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def figure(image: Png, alt: str, caption: str = "") -> str:
    """An embedded image with its (escaped) caption."""
    text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="{image.uri}" width="{image.width}" alt="{html.escape(alt)}">'
        f"{text}</figure>"
    )


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


_STYLE = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;
 max-width:72em;margin:0 auto;padding:1em 1.25em}
h1{font-size:1.45em;overflow-wrap:anywhere}h2{font-size:1.2em;margin-top:1.6em}
code{font-size:.88em;overflow-wrap:anywhere;word-break:break-all}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}
th,td{border:1px solid #d0d0d0;padding:.25em .5em;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td code{display:inline-block;min-width:9em}
table.sortable th{cursor:pointer;background:#f2f2f2;user-select:none}
th[aria-sort=descending]::after{content:" \\25BC"}th[aria-sort=ascending]::after{content:" \\25B2"}
figure{margin:1em 0}img{display:block;max-width:100%;height:auto}
figcaption{font-size:.9em;color:#444;margin-top:.3em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,28em),1fr));gap:0 1.5em}
details{margin:.5em 0}summary{cursor:pointer}
@media (max-width:40em){body{padding:.5em .6em;font-size:15px}}
"""

# Sort a table by the clicked header: numbers (data-key) numerically, other cells as text; a
# second click reverses the order.
_SCRIPT = """
for (const table of document.querySelectorAll("table.sortable")) {
  const heads = Array.from(table.tHead.rows[0].cells);
  heads.forEach((th, i) => th.addEventListener("click", () => {
    const down = th.getAttribute("aria-sort") !== "descending";
    heads.forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    const key = (row) => {
      const cell = row.cells[i];
      return cell.dataset.key === undefined ? cell.textContent : Number(cell.dataset.key);
    };
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b);
      const order = typeof x === "number" && typeof y === "number"
        ? x - y : String(x).localeCompare(String(y));
      return down ? -order : order;
    });
    body.append(...rows);
  }));
}
"""

_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def page(title: str, body: str) -> str:
    """The whole HTML document."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}<script>{_SCRIPT}</script></body></html>\n"
    )
