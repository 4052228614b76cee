"""The package's shape (issue 17): no import cycle, one registration per search name,
registries that do not swallow errors, plugins through entry points."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import trainfree
from trainfree.search import SEARCHES

SRC = Path(trainfree.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> trainfree modules it imports at module level (imports inside functions are
    deferred and cannot form an import-time cycle)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))  # fmt: skip
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    edges.add(sub if sub in modules else base)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_no_import_cycle() -> None:
    graph = _import_graph()
    assert graph.get("trainfree.cli.app")
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _string_constants(value: str) -> list[str]:
    """Where ``"value"`` occurs as a string literal (not a docstring) in the package."""
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
        }  # fmt: skip
        found += [
            f"{path.relative_to(SRC)}:{n.lineno}"
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and n.value == value and id(n) not in docstrings
        ]
    return found


@pytest.mark.parametrize("name", SEARCHES.names())
def test_every_search_name_is_written_once(name: str) -> None:
    places = _string_constants(name)
    assert len(places) == 1, f"search {name!r} is named in {places}"


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "trainfree.cli", *args],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=300,
    )  # fmt: skip


def _plugin(root: Path, name: str, body: str, group: str = "trainfree.proxies") -> Path:
    """A tiny installed distribution ``name`` (a module and its dist-info) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(textwrap.dedent(body))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {name}\n")
    return root


GOOD = """
    from trainfree.data import DataMode
    from trainfree.proxies import register_proxy

    @register_proxy("plugin_width", higher_is_better=True, data_mode=DataMode.FREE,
                    paper="A plugin, 2026")
    def plugin_width(model, batch):
        return float(sum(p.numel() for p in model.parameters()))
"""


def test_plugin_proxy_is_listed_and_scores(tmp_path: Path) -> None:
    site = _plugin(tmp_path / "site", "tf_plugin_good", GOOD)
    listed = _run(["proxies", "--json"], tmp_path, PYTHONPATH=str(site))
    assert listed.returncode == 0, listed.stderr
    assert "plugin_width" in {p["name"] for p in json.loads(listed.stdout)["proxies"]}
    arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
    scored = _run(
        ["score", "nb201[C=4,N=1]", arch, "--proxy", "plugin_width,params", "--dataset",
         "synthetic", "--json", "--quiet"],
        tmp_path, PYTHONPATH=str(site),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    values = {r["proxy"]: r["value"] for r in json.loads(scored.stdout)["results"]}
    assert values["plugin_width"] == values["params"] > 0


def test_broken_plugin_is_one_warning(tmp_path: Path) -> None:
    site = _plugin(tmp_path / "site", "tf_plugin_broken", "import no_such_module_anywhere\n")
    listed = _run(["spaces", "--json"], tmp_path, PYTHONPATH=str(site))
    assert listed.returncode == 0, listed.stderr
    warnings = [line for line in listed.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert "tf_plugin_broken" in warnings[0] and "no_such_module_anywhere" in warnings[0]
    assert "nb201" in {s["name"] for s in json.loads(listed.stdout)["spaces"]}


def test_registries_do_not_swallow_import_errors(tmp_path: Path) -> None:
    """A built-in module that fails to import is an error, not a silently missing proxy."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from trainfree.registry import import_submodules\nimport_submodules(__name__)\n"
    )
    (package / "broken.py").write_text("import no_such_module_anywhere\n")
    code = "import pkg"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.returncode != 0 and "no_such_module_anywhere" in proc.stderr
