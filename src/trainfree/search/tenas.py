"""TE-NAS pruning-based search (Chen, Gong & Wang, "Neural Architecture Search on ImageNet in Four
GPU Hours: A Theoretically Inspired Perspective", ICLR 2021), following the official
code (VITA-Group/TENAS, ``prune_tenas.py``).

1. All alphas are 0 and ``none`` is pruned on every edge; the mixture is the softmax over the
   active ops, i.e. their plain average.
2. Each round, every active op on an edge with at least two active ops is a candidate. For each of
   ``repeats`` repeats the NTK supernet is re-initialised (``ntk_init``; the official code intends
   Kaiming normal, fan_out, "for backward") and the thin linear-region supernet too (``lr_init``;
   intended Kaiming normal, fan_in, "for forward"), a new batch and
   new patches are drawn, and for each candidate the relative changes
   ``Δκ = (κ(α) - κ(α'))/κ(α)`` and ``ΔR = (R(α) - R(α'))/R(α)`` of removing it are measured
   with the same weights and data. ``draws`` says how often weights and data are redrawn (an
   open choice, a parameter): ``"candidate"`` (default) redraws them for every candidate and
   repeat, as the official code does (fresh Kaiming weights and the loader's next batch per
   ``get_ntk_n`` call, the region collector's next batches of crops); ``"repeat"`` draws once
   per repeat and scores all candidates of the round on that draw (common random numbers: about
   half the NTK computations, since κ(α) and R(α) are shared); ``"launcher"`` redraws the data
   per candidate and repeat but the weights as the official launcher's runs end up drawing them
   (its re-initialisation is a no-op: a scheme name mismatch): the NTK supernet's once per round
   (built once per ``prune_func_rank`` call), the region supernets' once per candidate (built
   afresh for each candidate, then kept over its repeats). With ``ntk_init = lr_init = "default"``
   (the defaults) it reproduces what produced the published figures. Each is rounded to
   ``precision`` decimals and averaged over the repeats.
3. Candidates are dense-ranked by Δκ descending and ΔR ascending (sorted by their values rounded
   to ``precision`` significant figures, a new rank wherever the value changes); on every edge the
   ``prune_number`` ops with the lowest rank sum are pruned (at most all but one). Equal sums are
   broken as the official stable sorts break them: the larger Δκ first, then candidate order.
4. DARTS only: then, node by node, the incoming edges are ranked the same way (removing an edge
   is the candidate) and all but the best two pruned.

The defaults are the launcher's draws and PyTorch's default initialisation (what produced the
paper's figures); the Kaiming initialisations the official code intends, with ``ntk_init`` /
``lr_init``, are applied for real (unlike in the official launcher). The supernets are the
official configs': NB201 NTK on C=3, N=1 with stem, linear regions on C=1, N=1
without stem, first cell only; DARTS both with C=1, two cells (normal, reduction), stem multiplier
1, the thin one without stem; cell BatchNorms affine, as in the official configs. Linear regions
are counted on ``lr_batches`` x ``lr_samples`` random single-channel 3x3 crops of ``lr_samples``
real images (:func:`trainfree.proxies.tenas.tenas_lr`).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainfree.data import DataMode, get_dataset_info, make_batch
from trainfree.data.augment import crop_and_flip
from trainfree.data.batch import Batch
from trainfree.errors import TrainfreeError
from trainfree.init import INITS, apply_init
from trainfree.proxies.ensemble import TENAS
from trainfree.proxies.tenas import tenas_lr, tenas_ntk
from trainfree.run.scoring import build_network
from trainfree.search.base import SearchResult, register_search
from trainfree.search.checkpoint import Checkpoint, masks_state, restore_masks
from trainfree.search.supernet import (
    PruningSpace,
    cell_masks,
    describe_masks,
    pruning_space,
    set_alphas,
    set_masks,
    single_choice,
)
from trainfree.spaces import SearchSpace

# (cell type, edge, op or None for the whole edge)
Candidate = tuple[int, int, int | None]
DRAWS = ("candidate", "repeat", "launcher")


@dataclass(frozen=True)
class TenasDefaults:
    """Per-space defaults of the official launcher and configs."""

    batch_size: int
    prune_number: int
    ntk_supernet: Mapping[str, Any]
    lr_supernet: Mapping[str, Any]


DEFAULTS: dict[str, TenasDefaults] = {
    "nb201": TenasDefaults(
        batch_size=72,
        prune_number=1,
        ntk_supernet={"C": 3, "N": 1, "stem": True, "affine": True},
        lr_supernet={"C": 1, "N": 1, "stem": False, "in_channels": 1, "depth": 1, "affine": True},
    ),
    "darts": TenasDefaults(
        batch_size=14,
        prune_number=3,
        ntk_supernet={"C": 1, "layers": 2, "stem_multiplier": 1, "affine": True},
        lr_supernet={
            "C": 1,
            "layers": 2,
            "stem_multiplier": 1,
            "stem": False,
            "in_channels": 1,
            "affine": True,
        },
    ),
}


def significant(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant figures (the official ``round_to``, eps 1e-8)."""
    if value == 0:
        return 0.0
    magnitude = abs(value) + 1e-8
    power = math.floor(math.log10(magnitude)) + 1
    return math.copysign(round(magnitude * 10.0**-power, digits) * 10.0**power, value)


def dense_rank(
    values: Sequence[float], *, descending: bool, digits: int = 3
) -> tuple[np.ndarray, list[int]]:
    """Ranks from 0 and the order they were given in, as the official ``prune_func_rank`` ranks.

    Candidates are sorted by their value rounded to ``digits`` significant figures (stable: ties
    keep the candidate order); walking that order, the rank goes up by one whenever a value
    differs from its predecessor's (by more than 1e-12; the official code compares exactly).
    """
    vals = [float(v) for v in values]
    order = sorted(range(len(vals)), key=lambda i: significant(vals[i], digits), reverse=descending)
    ranks = np.zeros(len(vals), dtype=int)
    for prev, i in itertools.pairwise(order):
        ranks[i] = ranks[prev] + (abs(vals[i] - vals[prev]) > 1e-12)
    return ranks, order


def prune_order(
    ntk_delta: Sequence[float], lr_delta: Sequence[float], digits: int = 3
) -> list[int]:
    """Candidate indices, most attractive to prune first: by the TE-NAS rank sum (dense rank of Δκ
    descending + dense rank of ΔR ascending), ties broken as the official stable sort breaks them
    (by position in the Δκ order, then by candidate order)."""
    ntk_rank, ntk_order = dense_rank(ntk_delta, descending=True, digits=digits)
    lr_rank, _ = dense_rank(lr_delta, descending=False, digits=digits)
    return sorted(ntk_order, key=lambda i: ntk_rank[i] + lr_rank[i])


def _removed(masks: Sequence[torch.Tensor], cand: Candidate) -> list[torch.Tensor]:
    out = [m.clone() for m in masks]
    cell, edge, op = cand
    if op is None:
        out[cell][edge] = False
    else:
        out[cell][edge, op] = False
    return out


class _Indicators:
    """The two supernets, their data and the Δκ / ΔR measurements of candidate removals."""

    def __init__(
        self,
        spec: PruningSpace,
        *,
        dataset: str,
        data_dir: Path | None,
        batch_size: int,
        num_classes: int | None,
        image_size: int | None,
        repeat: int,
        precision: int,
        lr_samples: int,
        lr_batches: int,
        lr_images: int,
        ntk_supernet: Mapping[str, Any],
        lr_supernet: Mapping[str, Any],
        inits: tuple[str, str],
        draws: str,
        augment: bool,
        seed: int,
        device: str,
        channels_last: bool,
    ) -> None:
        self.data = {
            "dataset": dataset,
            "data_dir": data_dir,
            "num_classes": num_classes,
            "image_size": image_size,
        }
        self.batch_size, self.repeat, self.precision = batch_size, repeat, precision
        self.lr_samples, self.lr_batches, self.lr_images = lr_samples, lr_batches, lr_images
        self.inits, self.draws = inits, draws
        self.augment = get_dataset_info(dataset) if augment else None
        self.device = torch.device(device)
        self.channels_last = channels_last and self.device.type == "cpu"
        self.rng = random.Random(seed)
        shape = make_batch(
            dataset, batch_size=1, seed=0, mode=DataMode.FREE, num_classes=num_classes
        )
        self.ntk_net = self._supernet(spec, ntk_supernet, shape, seed, self.channels_last)
        self.lr_net = self._supernet(spec, lr_supernet, shape, seed, False)
        self.evaluations = 0

    def _supernet(
        self,
        spec: PruningSpace,
        sizes: Mapping[str, Any],
        shape: Batch,
        seed: int,
        channels_last: bool,
    ) -> nn.Module:
        """A supernet for ``shape``'s classes, all alphas 0; its weights are drawn afresh (by
        :meth:`_draw` or :meth:`_reinit`) before every use."""
        net, _ = build_network(
            partial(spec.build, **sizes),
            shape,
            seed=seed,
            device=self.device,
            channels_last=channels_last,
        )
        set_alphas(net, 0.0)
        return net

    def _draw(self, weights: bool) -> tuple[Batch, Batch, int]:
        """A fresh NTK batch, fresh images and crop seed, and (``weights``) fresh weights for both
        nets."""
        seed = self.rng.randrange(2**31)
        batch = make_batch(batch_size=self.batch_size, seed=seed, mode=DataMode.INPUTS, **self.data)
        if self.augment is not None:  # the official NTK loader's training augmentation
            info = self.augment
            batch = crop_and_flip(batch, mean=info.mean, std=info.std, seed=seed + 3)
        images = make_batch(
            batch_size=self.lr_images, seed=seed + 1, mode=DataMode.INPUTS, **self.data
        )
        if weights:
            torch.manual_seed(seed)
            apply_init(self.ntk_net, self.inits[0])
            apply_init(self.lr_net, self.inits[1])
        batch = batch.to(self.device)
        if self.channels_last:
            batch = batch.channels_last()
        return batch, images.to(self.device), seed + 2

    def _reinit(self, net: nn.Module, init: str, seed: int) -> None:
        torch.manual_seed(seed)
        apply_init(net, init)

    def _kappa(self, masks: Sequence[torch.Tensor], batch: Batch) -> float:
        set_masks(self.ntk_net, masks)
        return tenas_ntk(self.ntk_net.train(), batch)

    def _regions(self, masks: Sequence[torch.Tensor], images: Batch, crop_seed: int) -> float:
        set_masks(self.lr_net, masks)
        return tenas_lr(self.lr_net.train(), images, samples=self.lr_samples,
                        n_batches=self.lr_batches, seed=crop_seed)  # fmt: skip

    def deltas(
        self, masks: Sequence[torch.Tensor], cands: Sequence[Candidate]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean over repeats of the rounded relative changes (Δκ, ΔR) of removing each candidate."""
        ntk = np.zeros((self.repeat, len(cands)))
        lr = np.zeros((self.repeat, len(cands)))
        launcher = self.draws == "launcher"
        if launcher:  # the NTK weights of the round; the region weights of each candidate
            self._reinit(self.ntk_net, self.inits[0], self.rng.randrange(2**31))
            lr_seeds = [self.rng.randrange(2**31) for _ in cands]
        for r in range(self.repeat):
            for i, cand in enumerate(cands):
                if launcher:
                    self._reinit(self.lr_net, self.inits[1], lr_seeds[i])
                if i == 0 or self.draws != "repeat":  # data (and weights), and α's indicators
                    batch, images, crop_seed = self._draw(weights=not launcher)
                    kappa = self._kappa(masks, batch)
                    regions = self._regions(masks, images, crop_seed)
                    self.evaluations += 1
                pruned = _removed(masks, cand)
                ntk[r, i] = round((kappa - self._kappa(pruned, batch)) / kappa, self.precision)
                lr[r, i] = round(
                    (regions - self._regions(pruned, images, crop_seed)) / regions, self.precision
                )
                self.evaluations += 1
        set_masks(self.ntk_net, masks)
        set_masks(self.lr_net, masks)
        return ntk.mean(axis=0), lr.mean(axis=0)


def _op_candidates(masks: Sequence[torch.Tensor]) -> list[Candidate]:
    return [
        (cell, edge, int(op))
        for cell, mask in enumerate(masks)
        for edge in range(mask.shape[0])
        if mask[edge].sum() > 1
        for op in mask[edge].nonzero().flatten().tolist()
    ]


def _prune_ops(
    masks: list[torch.Tensor], cands: list[Candidate], order: Sequence[int], prune_number: int
) -> None:
    """On every edge, prune the first ``prune_number`` of its candidates in ``order`` (keeping one
    op)."""
    left = {(c, e): min(prune_number, int(masks[c][e].sum()) - 1) for c, e, _ in cands}
    for i in order:
        cell, edge, op = cands[i]
        if left[(cell, edge)] > 0:
            left[(cell, edge)] -= 1
            masks[cell][edge, op] = False


def _prune_edges(
    ind: _Indicators, masks: list[torch.Tensor], groups: Sequence[range], keep: int
) -> None:
    """Per node, keep the ``keep`` incoming edges that come last in the prune order."""
    for cell in range(len(masks)):
        for group in groups:
            edges = [e for e in group if masks[cell][e].any()]
            if len(edges) <= keep:
                continue
            cands: list[Candidate] = [(cell, e, None) for e in edges]
            for i in prune_order(*ind.deltas(masks, cands), digits=ind.precision)[:-keep]:
                masks[cell][edges[i]] = False


@register_search(
    TENAS.name,
    needs="supernet",
    paper="Chen, Gong & Wang, Neural Architecture Search on ImageNet in Four GPU Hours: "
    "A Theoretically Inspired Perspective, ICLR 2021",
)
def tenas_search(
    space: SearchSpace,
    *,
    dataset: str = "cifar10",
    data_dir: str | Path | None = None,
    batch_size: int | None = None,
    num_classes: int | None = None,
    image_size: int | None = None,
    repeats: int = 3,
    precision: int = 3,
    prune_number: int | None = None,
    lr_samples: int = 1000,
    lr_batches: int = 3,
    lr_images: int | None = None,
    ntk_supernet: Mapping[str, Any] | None = None,
    lr_supernet: Mapping[str, Any] | None = None,
    ntk_init: str = "default",
    lr_init: str = "default",
    draws: str = "launcher",
    augment: bool = True,
    seed: int = 0,
    device: str = "cpu",
    channels_last: bool = True,
    progress: Callable[[str], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> SearchResult:
    """Run TE-NAS pruning on ``space`` (``nb201`` or ``darts``); see the module docstring.

    The defaults are the settings that reproduce the paper's NB201 result on this library (the
    official launcher's runs: ``draws="launcher"``, ``augment=True``, PyTorch's default
    initialisation for both supernets; 93.80 +- 0.24 % CIFAR-10 test accuracy over seeds 0-2,
    paper 93.9 +- 0.47, BENCHMARKS.md). The Kaiming initialisations the official code intends
    but never applies (``ntk_init="kaiming_normal_fan_out"``, ``lr_init="kaiming_normal_fan_in"``)
    are a documented deviation; with ``draws="candidate"`` and no augmentation they found a cell
    of 92.74 % (seed 0, BENCHMARKS.md).

    ``None`` settings take the official per-space defaults (:data:`DEFAULTS`: NTK batch 72 / 14,
    prune number 1 / 3); ``ntk_supernet`` / ``lr_supernet`` override the supernet size keywords.
    ``evaluations`` counts supernet states scored (each for both indicators and ``repeats``
    times). ``draws``: ``"candidate"``, ``"repeat"`` or ``"launcher"`` (see the module
    docstring). ``progress(status)`` is called after every round; with ``checkpoint`` the state
    after each round (masks, random-number state, counters) is saved there and a run that finds
    one goes on from it, with the same result as without interruption. ``lr_images``:
    how many real images the region crops are cut from (default ``lr_samples x lr_batches``:
    the official collector crops each of its 3 x 1000 samples from a different image, its
    loader's next batch); fewer lets a small image set serve, each crop a random channel and
    position of a random image among them. ``augment``: the NTK batches get the standard CIFAR
    training augmentation (random crop with 4-pixel padding, horizontal flip), as the official
    NTK loader gives them (:func:`trainfree.data.augment.crop_and_flip`).
    ``channels_last``: on CPU the NTK supernet and its batches are laid out channels-last
    (oneDNN's convolutions: about 20% less time per κ on this search's C=3 supernet). The
    layout changes float rounding only: on round 1 of seed 0 the 12 first candidates' Δκ moved by
    at most 0.011 and were pruned in the same order (BENCHMARKS.md).
    """
    start = time.perf_counter()
    spec = pruning_space(space)
    defaults = DEFAULTS[spec.name]
    lr_images = lr_samples * lr_batches if lr_images is None else lr_images
    if min(repeats, lr_samples, lr_batches, lr_images) < 1 or precision < 0:
        raise TrainfreeError(
            "TE-NAS needs repeats, lr_samples, lr_batches, lr_images >= 1 and precision >= 0"
        )
    for init in (ntk_init, lr_init):
        INITS.get(init)  # an unknown scheme: one line listing the known ones
    if draws not in DRAWS:
        raise TrainfreeError(f"unknown TE-NAS draws {draws!r} (known: {', '.join(DRAWS)})")
    ind = _Indicators(
        spec,
        dataset=dataset,
        data_dir=Path(data_dir) if data_dir else None,
        batch_size=batch_size or defaults.batch_size,
        num_classes=num_classes,
        image_size=image_size,
        repeat=repeats,
        precision=precision,
        lr_samples=lr_samples,
        lr_batches=lr_batches,
        lr_images=lr_images,
        ntk_supernet={**defaults.ntk_supernet, **(ntk_supernet or {})},
        lr_supernet={**defaults.lr_supernet, **(lr_supernet or {})},
        inits=(ntk_init, lr_init),
        draws=draws,
        augment=augment,
        seed=seed,
        device=device,
        channels_last=channels_last,
    )
    masks = [torch.ones_like(m) for m in cell_masks(ind.ntk_net)]
    for mask in masks:
        mask[:, spec.none_index] = False
    history: list[str] = []
    state = checkpoint.last() if checkpoint is not None else None
    if state is not None:
        restore_masks(masks, state["masks"])
        version, inner, gauss = state["rng"]
        ind.rng.setstate((version, tuple(inner), gauss))
        ind.evaluations, history = state["evaluations"], list(state["history"])

    def finished_round() -> None:
        history.append(describe_masks(spec.op_names, masks))
        if checkpoint is not None:
            checkpoint.save({
                "round": len(history), "masks": masks_state(masks), "rng": ind.rng.getstate(),
                "evaluations": ind.evaluations, "history": history,
            })  # fmt: skip
        if progress is not None:
            left = int(sum(int(m.sum()) for m in masks))
            progress(f"round {len(history)}: {left} operations left")

    while cands := _op_candidates(masks):
        order = prune_order(*ind.deltas(masks, cands), digits=precision)
        _prune_ops(masks, cands, order, prune_number or defaults.prune_number)
        finished_round()
    if spec.edge_groups is not None and not _edges_pruned(masks, spec.edge_groups):
        _prune_edges(ind, masks, spec.edge_groups, keep=2)
        finished_round()
    arch = space.canonical(spec.arch_from_choice(single_choice(masks)))
    seconds = time.perf_counter() - start
    rounds = [(h, None) for h in history]
    return SearchResult(TENAS.name, arch, None, ind.evaluations, seconds, rounds)


def _edges_pruned(masks: Sequence[torch.Tensor], groups: Sequence[range], keep: int = 2) -> bool:
    """Whether every node of every cell already keeps at most ``keep`` incoming edges."""
    return all(
        sum(bool(mask[e].any()) for e in group) <= keep for mask in masks for group in groups
    )
