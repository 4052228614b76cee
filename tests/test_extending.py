"""README.md's "Extending trainfree" examples work as written: the new proxy, space and search
are usable by name (in a subprocess, so the test's registries stay as they are)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from test_readme import ROOT, python_blocks

USE = """
from trainfree.run.scoring import ScoreConfig, score_proxies
from trainfree.search import run_search
from trainfree.spaces import get_space

config = ScoreConfig(dataset="synthetic", batch_size=8, image_size=16)
space = get_space("tinyconv")
for arch in space.sample(3, seed=0):
    scores = score_proxies(space, arch, ["logit_spread", "logit_spread[eps=0.5]", "params"], config)
    assert scores["logit_spread[eps=0.5]"].value > scores["logit_spread"].value > 0
result = run_search("first_of_ten", space, proxy="params", config=config, evaluations=3)
assert result.arch == "w32" and result.algo == "first_of_ten"
thin = get_space("nb201[C=4,N=1]")
arch = thin.sample(1, seed=0)[0]
assert score_proxies(thin, arch, ["logit_spread"], config)["logit_spread"].value > 0
print("ok")
"""


def test_readme_extension_examples_run(tmp_path: Path) -> None:
    blocks = python_blocks((ROOT / "README.md").read_text(), "## Extending trainfree")
    assert len(blocks) == 3
    script = tmp_path / "extend.py"
    script.write_text("\n".join(blocks) + textwrap.dedent(USE))
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
