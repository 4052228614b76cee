"""``benchmarks/mlp_ground_truth.py``: its proxy scores are keyed by the options they ran with."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import torch

from trainfree.proxies import PROXIES, compute_proxy

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mlp_ground_truth.py"
ARCH = "mlp:16|relu|default"


def _script():
    spec = importlib.util.spec_from_file_location("mlp_ground_truth", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_tenas_lr_runs_and_is_stored_with_its_mlp_options():
    gt = _script()
    registered = PROXIES.get("tenas_lr")
    specs = [gt.mlp_proxy(name) for name in gt.PROXY_PARAMS]
    jobs = gt.jobs([ARCH], specs, 0, 1, gt.Recipe())
    assert {job.dataset for job in jobs} == set(gt.DATASETS) and len(jobs) == len(gt.DATASETS)
    for job in jobs:
        options = json.loads(job.config.params)["options"]
        assert options["spatial_only"] is False
        assert job.config.params != registered.fingerprint()  # not the default's key

    data = gt.dataset("wine")
    (value,) = gt.proxy_values(specs[0], ARCH, data, 1)
    size = min(registered.batch_size, len(data.y_train))  # every training row of wine
    pick = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(0))[:size]
    batch = gt.Batch(data.x_train[pick], data.y_train[pick], data.num_classes)
    torch.manual_seed(0)
    model = gt.SPACE.build(ARCH, num_classes=data.num_classes, in_features=data.num_features)
    assert value == compute_proxy(registered, model, batch, spatial_only=False)
