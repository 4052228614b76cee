"""README.md says what the tool does: every Quick start command runs as written (with small
budgets), and the Python API example runs as it stands."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Budget substitutions that keep each command's meaning but make it quick.
SMALL = [
    (r"--evaluations \d+", "--evaluations 3"),
    (r"--sample \d+", "--sample 6"),
    (r"--bootstrap \d+", "--bootstrap 20"),
    (r"--select-on \d+", "--select-on 3"),
    (r"--algo tenas", "--algo tenas --image-size 8 --batch-size 4 --repeats 1 "
     "-o lr_samples=20 -o lr_batches=1"),
    (r"--algo freedarts", "--algo freedarts --image-size 8"),
]


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def quick_start_commands() -> list[str]:
    """The ``trainfree ...`` commands of the Quick start's shell blocks (continuations joined,
    comments dropped)."""
    commands = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", section("Quick start"), re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("trainfree "):
                commands.append(line)
    return commands


def test_quick_start_is_found() -> None:
    commands = quick_start_commands()
    assert len(commands) >= 8
    assert {c.split()[1] for c in commands} >= {"score", "correlate", "search", "report"}


@pytest.mark.slow
@pytest.mark.parametrize("command", quick_start_commands())
def test_quick_start_command_runs(command: str, data_dir: Path, tmp_path: Path) -> None:
    small = command
    for pattern, replacement in SMALL:
        small = re.sub(pattern, replacement, small)
    words = shlex.split(os.path.expandvars(small.replace("$TRAINFREE_DATA", str(data_dir))))
    if words[1] == "report":  # reports the store the search above wrote
        store = tmp_path / "search.sqlite"
        subprocess.run(
            [sys.executable, "-m", "trainfree.cli", "search", "nb201[C=4,N=1]", "--algo",
             "random", "--proxy", "params", "--evaluations", "3", "--dataset", "synthetic",
             "--store", str(store), "--quiet"],
            check=True, cwd=tmp_path, timeout=600,
        )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "trainfree.cli", *words[1:]],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
        env={**os.environ, "TRAINFREE_DATA": str(data_dir)},
    )  # fmt: skip
    assert proc.returncode == 0, f"{small}\n{proc.stderr[-2000:]}"


def python_blocks(text: str, heading: str = "## Python API") -> list[str]:
    """The ```python blocks of the section under ``heading`` (up to the next heading of the
    same or a higher level; ``#`` lines inside code blocks are not headings)."""
    level = len(heading) - len(heading.lstrip("#"))
    blocks: list[str] = []
    inside, fence = False, False
    code: list[str] | None = None
    for line in text.splitlines():
        if not fence and re.match(rf"#{{1,{level}}} ", line):
            inside = line.strip() == heading
        elif line.startswith("```"):
            if fence and inside and code is not None:
                blocks.append("\n".join(code) + "\n")
            fence = not fence
            code = [] if fence and line.strip() == "```python" else None
        elif fence and code is not None:
            code.append(line)
    return blocks


def test_python_blocks_are_found_in_their_section() -> None:
    text = "# T\n## Python API\n```python\n# not a heading\n```\n```bash\nls\n```\n### Sub\n"
    text += "```python\nb = 2\n```\n## Next\n```python\nc = 3\n```\n"
    assert python_blocks(text) == ["# not a heading\n", "b = 2\n"]
    assert python_blocks("# T\n") == []


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert blocks, "no ```python block under '## Python API' in README.md"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile("\n".join(blocks), "README.md", "exec"), namespace)
