"""FreeDARTS with ZEROS, zero-cost operation sensitivity (Zhang, Huang & Wang, arXiv 2106.11542,
"Connection Sensitivity Matters for Training-free DARTS"), following the released code
(anonymous-submission1991/FreeDARTS). The v4 text beyond its abstract (ZEROS scores each
candidate op of each edge at initialisation, "iterative and data-agnostic") was not available;
every step below is the released code's unless marked as a choice.

Scoring (the released code): the supernet mixes each edge's ops with the raw architecture
parameters, ``Σ_o α_{e,o} · o(x)`` (``mixing="alphas"``: NB201's ``TinyNetworkDartsV1`` has
the softmax commented out, DARTS's ``Network`` dropped it); every parameter and buffer replaced
by its absolute value (the alphas too unless ``abs_alphas=False``; the released DARTS code
leaves them signed); one all-ones input image; ``R = Σ logits`` and
``ZEROS(e, o) = |α_{e,o} · ∂R/∂α_{e,o}|`` (SynFlow's saliency on the architecture parameters).
With raw-alpha mixing ``none`` (output 0) scores exactly 0, so it is never kept on NB201.
``mixing="softmax"`` (DARTS's relaxation) is available but is not ZEROS: there
``∂R/∂α_o = p_o (g_o − Σ_k p_k g_k)`` measures an op's distance from the edge's mean, so ``none``,
skip and pooling (far below the mean) score like convolutions, and with the 1e-3 N(0, 1) alphas
as a random factor they are picked often. The alphas start as in the released model files
(1e-3 N(0, 1), ``alpha_init="darts"``); ``alpha_init="ones"`` starts them at 1 (the alphas the
released NB201 notebook prints); on NB201 the pick then no longer depends on the seed
(measured below: the random |weights| never change it, the random alpha magnitudes do).
The linearised weights are a fresh state passed through ``torch.func.functional_call``, so the
supernet itself is untouched, as with the released code's deep copy.

Numerics: the released NB201 notebook overflows to NaN through the cells (its saved output) and
then picks an all-``none`` cell. Here the linearised state is in ``dtype`` (float64 by default;
a choice) and ``bn="unit"`` puts BatchNorm in eval mode with unit statistics (mean 0, variance 1),
as SynFlow does (a choice); ``bn="batch"`` keeps the released train-mode batch statistics. Any
non-finite score raises :class:`NonFiniteScoreError`.

Search (the paper's iterative schedule is not given in the available text; a choice): each round,
(re)score and mask the ``ops_pruned_per_round`` lowest-scoring active ops on every edge, until
one op per edge is left; on DARTS, ``none`` stays in the mixture but is never pruned nor chosen
(as in the released discretisation), and once every edge holds one op the lowest-scoring
incoming edge of every node with more than two is masked per round, until two are left.
``rounds`` caps the number of scoring rounds; whatever is still undecided then is discretised by
the latest scores (argmax per edge; DARTS: the two best edges per node). ``rounds=1`` is the
released one-shot FreeDARTS.

Measured on NB201 (test accuracy after 200 epochs, ``nb201_accuracy.csv``; seeds 0-4, C=16, N=5
supernet; ``benchmarks/freedarts_steps.py``; 2-core CPU, one thread, about 1 s a search):

=========================================  ============  ============  =================
setting                                    CIFAR-10      CIFAR-100     ops chosen (of 60)
=========================================  ============  ============  =================
default (raw alphas, iterative)            93.69 ± 0.21  71.23 ± 1.18  45 conv3x3, 13 1x1
``rounds=1`` (released one-shot)           93.69 ± 0.21  71.23 ± 1.18  same cells
``bn="batch", dtype="float32", rounds=1``  93.55 ± 0.25  70.17 ± 0.48  42 conv3x3, 18 1x1
``alpha_init="ones"``                      93.76 ± 0     71.11 ± 0     all conv3x3
``abs_alphas=False``                       93.28 ± 0.19  56.89 ± 26.1  18 pool, 5 skip
``mixing="softmax"`` (earlier default)     89.75 ± 2.60  57.45 ± 10.6  12 none, 19 pool
``mixing="softmax", rounds=1``             91.69 ± 1.99  67.63 ± 2.36  16 none
=========================================  ============  ============  =================

Random search with ``ensemble[azlog]:meco+synflow`` in the same wall time found 91.32 ± 2.62
(CIFAR-10) and 66.09 ± 5.15 (CIFAR-100); in 12 s, 92.91 ± 1.00 and 70.55 ± 0.75.

NB201: a cell whose output is identically zero (no path of non-``none`` edges from input to
output) could come out (e.g. under softmax mixing); rather than return it silently, the search
raises :class:`DegenerateArchError`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from trainfree.data import get_dataset_info
from trainfree.errors import NonFiniteScoreError, TrainfreeError
from trainfree.search.base import SearchResult, register_search
from trainfree.search.checkpoint import Checkpoint, masks_state, restore_masks
from trainfree.search.supernet import (
    PruningSpace,
    cell_alphas,
    cell_masks,
    describe_masks,
    pruning_space,
    set_alphas,
    single_choice,
)
from trainfree.spaces import SearchSpace
from trainfree.spaces import nb201 as nb201_space
from trainfree.spaces.darts import DartsSpace
from trainfree.spaces.nb201 import NB201Space

BN_MODES = ("unit", "batch")
#: ``darts``: the supernet's own 1e-3 N(0, 1) alphas; ``ones``: every alpha 1.
ALPHA_INITS = ("darts", "ones")
#: The registered name of the search.
FREEDARTS = "freedarts"
DEFAULT_SUPERNETS: dict[str, Mapping[str, Any]] = {
    NB201Space.name: {"C": 16, "N": 5},  # the released NB201 run: DARTS-V1 supernet, C=16, N=5
    DartsSpace.name: {"C": 16, "layers": 8},  # DARTS's search model
}


class DegenerateArchError(TrainfreeError):
    """A search produced a cell whose output is identically zero."""


def _linearised_state(
    net: nn.Module, *, bn: str, dtype: torch.dtype, abs_alphas: bool
) -> dict[str, torch.Tensor]:
    """SynFlow's linearisation as a fresh state for :func:`torch.func.functional_call`:
    |parameters| and |buffers| in ``dtype`` (``bn="unit"``: running mean 0, variance 1), the
    alphas as leaves requiring grad. Equivalent to editing a deep copy, without copying modules."""
    alpha_names = {id(a): name for name, a in net.named_parameters() if "alphas" in name}
    if len(alpha_names) != len(cell_alphas(net)):
        raise TrainfreeError("ZEROS needs a supernet whose architecture parameters are 'alphas'")
    state: dict[str, torch.Tensor] = {}
    for name, tensor in itertools.chain(net.named_parameters(), net.named_buffers()):
        value = tensor.detach().clone()
        if value.is_floating_point():
            signed = id(tensor) in alpha_names and not abs_alphas
            value = value.to(dtype) if signed else value.to(dtype).abs()
            if bn == "unit" and name.endswith(".running_mean"):
                value.zero_()
            if bn == "unit" and name.endswith(".running_var"):
                value.fill_(1.0)
        state[name] = value
    for name in alpha_names.values():
        state[name].requires_grad_(True)
    return state


@contextmanager
def _bn_mode(net: nn.Module, bn: str) -> Iterator[None]:
    """Eval mode for ``bn="unit"`` (running statistics), train mode for ``"batch"``; restored."""
    if bn not in BN_MODES:
        raise TrainfreeError(f"unknown bn mode {bn!r} (known: {', '.join(BN_MODES)})")
    modes = {module: module.training for module in net.modules()}
    if bn == "unit" and any(isinstance(m, _BatchNorm) and not m.track_running_stats for m in modes):
        raise TrainfreeError("bn='unit' needs BatchNorm layers that track running stats")
    net.train(bn == "batch")
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def zeros_scores(
    net: nn.Module,
    *,
    input_shape: Sequence[int],
    bn: str = "unit",
    dtype: torch.dtype = torch.float64,
    abs_alphas: bool = True,
) -> list[torch.Tensor]:
    """ZEROS of every (edge, op) per cell type; masked ops get ``-inf``. ``net`` is untouched.

    ``input_shape`` is one image's (channels, height, width). Raises
    :class:`NonFiniteScoreError` if an active op's score is NaN or infinite.
    """
    state = _linearised_state(net, bn=bn, dtype=dtype, abs_alphas=abs_alphas)
    names = [n for n, p in net.named_parameters() if "alphas" in n]
    alphas = [state[n] for n in names]
    device = alphas[0].device
    ones = torch.ones(1, *input_shape, dtype=dtype, device=device)
    with _bn_mode(net, bn):
        logits = functional_call(net, state, (ones,))
    grads = torch.autograd.grad(logits.sum(), alphas, allow_unused=True)
    scores = []
    for alpha, grad, mask in zip(alphas, grads, cell_masks(net), strict=True):
        grad = torch.zeros_like(alpha) if grad is None else grad
        score = (alpha * grad).abs().detach()
        if not torch.isfinite(score[mask]).all():
            raise NonFiniteScoreError(
                f"ZEROS produced non-finite scores (dtype {dtype}, bn={bn!r}); "
                "try dtype=float64, bn='unit' or a smaller supernet"
            )
        scores.append(score.masked_fill(~mask, float("-inf")).cpu())
    return scores


def _candidates(spec: PruningSpace, mask: torch.Tensor) -> torch.Tensor:
    """Ops that may be pruned or chosen: active ones, never DARTS's ``none``."""
    allowed = mask.clone()
    if spec.edge_groups is not None:
        allowed[:, spec.none_index] = False
    return allowed


def _prune_ops(
    spec: PruningSpace,
    masks: Sequence[torch.Tensor],
    scores: Sequence[torch.Tensor],
    per_round: int,
) -> bool:
    """Mask the lowest-scoring candidates on every edge with more than one; True if any."""
    changed = False
    for mask, score in zip(masks, scores, strict=True):
        allowed = _candidates(spec, mask)
        for edge in range(mask.shape[0]):
            ops = allowed[edge].nonzero().flatten().tolist()
            ranked = sorted(ops, key=lambda o: (score[edge, o].item(), o))
            for op in ranked[: min(per_round, len(ops) - 1)]:
                mask[edge, op] = False
                changed = True
    return changed


def _prune_edges(
    spec: PruningSpace, masks: Sequence[torch.Tensor], scores: Sequence[torch.Tensor]
) -> bool:
    """DARTS: on every node with more than two live edges, mask the weakest one."""
    changed = False
    for mask, score in zip(masks, scores, strict=True):
        allowed = _candidates(spec, mask)
        best = score.masked_fill(~allowed, float("-inf")).max(dim=1).values
        for group in spec.edge_groups or ():
            live = [e for e in group if allowed[e].any()]
            if len(live) > 2:
                mask[min(live, key=lambda e: (best[e].item(), e))] = False
                changed = True
    return changed


def _decided(spec: PruningSpace, masks: Sequence[torch.Tensor]) -> bool:
    """True when every edge holds at most one candidate and (DARTS) every node two live edges."""
    for mask in masks:
        live = _candidates(spec, mask).sum(dim=1)
        if (live > 1).any():
            return False
        if any(int((live[group] > 0).sum()) > 2 for group in spec.edge_groups or ()):
            return False
    return True


def _final_choice(
    spec: PruningSpace, masks: Sequence[torch.Tensor], scores: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """One op per kept edge by the latest scores (DARTS: two edges per node, never ``none``)."""
    final = []
    for mask, score in zip(masks, scores, strict=True):
        allowed = _candidates(spec, mask)
        ranked = score.masked_fill(~allowed, float("-inf"))
        best_value, best_op = ranked.max(dim=1)
        chosen = torch.zeros_like(mask)
        groups = spec.edge_groups or (range(mask.shape[0]),)
        keep = 2 if spec.edge_groups else mask.shape[0]
        for group in groups:
            for edge in sorted(group, key=lambda e: -best_value[e].item())[:keep]:
                if not allowed[edge].any():
                    raise TrainfreeError("ZEROS: a node has fewer than two usable input edges")
                chosen[edge, best_op[edge]] = True
        final.append(chosen)
    return final


def _dtype(value: torch.dtype | str) -> torch.dtype:
    """``torch.float64`` or its name (``"float64"``, ``"float32"``: the CLI passes strings)."""
    dtype = getattr(torch, value, None) if isinstance(value, str) else value
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TrainfreeError(f"dtype must be a floating-point torch dtype, got {value!r}")
    return dtype


def _check_nb201_cell(spec: PruningSpace, choice: list[list[int | None]]) -> None:
    """Raise if no path of non-``none`` edges joins the cell's input (node 0) to its output."""
    reach = {0}
    for (src, dst), op in zip(nb201_space.EDGES, choice[0], strict=True):
        if src in reach and op is not None and op != spec.none_index:
            reach.add(dst)
    if 3 not in reach:
        raise DegenerateArchError(
            "ZEROS chose a NB201 cell whose output is identically zero "
            "(no path of non-none edges); check the scores or change bn/dtype"
        )


@register_search(
    FREEDARTS,
    needs="supernet",
    paper="Zhang, Huang & Wang, Connection Sensitivity Matters for Training-free DARTS, "
    "arXiv 2106.11542, 2021 (FreeDARTS/ZEROS)",
)
def zeros_search(
    space: SearchSpace,
    *,
    rounds: int | None = None,
    ops_pruned_per_round: int = 1,
    rescore_every_round: bool = True,
    supernet: Mapping[str, Any] | None = None,
    mixing: str = "alphas",
    alpha_init: str = "darts",
    bn: str = "unit",
    dtype: torch.dtype | str = torch.float64,
    abs_alphas: bool = True,
    dataset: str = "cifar10",
    image_size: int | None = None,
    num_classes: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> SearchResult:
    """FreeDARTS/ZEROS on ``space`` (``nb201`` or ``darts``); see the module docstring.

    ``progress(status)`` is called after every pruning round with the active ops left; with
    ``checkpoint`` the state after each round is saved there, and a run that finds one goes on
    from it (:mod:`trainfree.search.checkpoint`): the same result as without interruption.

    ZEROS is data-agnostic: ``dataset`` only sets the input shape and class count (overridden
    by ``image_size`` and ``num_classes``). ``mixing`` is the supernet's edge mixing (``alphas``:
    raw, as released; ``softmax``: DARTS's); ``alpha_init`` one of :data:`ALPHA_INITS`.

    The supernet (sizes :data:`DEFAULT_SUPERNETS`, overridable by ``supernet``) is built after
    ``torch.manual_seed(seed)``, so its weights and DARTS-style alphas (1e-3 N(0, 1)) follow the
    seed. ``evaluations`` counts scoring passes; ``history`` holds the active ops after each round.
    """
    start = time.perf_counter()
    spec = pruning_space(space)
    if (rounds is not None and rounds < 1) or ops_pruned_per_round < 1:
        raise TrainfreeError("rounds and ops_pruned_per_round must be at least 1")
    dtype = _dtype(dtype)
    info = get_dataset_info(dataset)
    image_size = image_size or info.image_size
    in_channels = info.channels
    torch.manual_seed(seed)
    if "weights" in (supernet or {}):
        raise TrainfreeError(
            "give the supernet's mixing as the search option mixing=..., not in supernet"
        )
    if alpha_init not in ALPHA_INITS:
        raise TrainfreeError(f"unknown alpha_init {alpha_init!r} (known: {', '.join(ALPHA_INITS)})")
    sizes = {**DEFAULT_SUPERNETS[spec.name], **(supernet or {})}
    classes = num_classes or info.num_classes
    net = spec.build(num_classes=classes, in_channels=in_channels, weights=mixing, **sizes)
    net = net.to(device)
    if alpha_init == "ones":
        set_alphas(net, 1.0)
    masks = cell_masks(net)
    shape = (in_channels, image_size, image_size)
    history: list[tuple[str, float | None]] = []
    scores: list[torch.Tensor] | None = None
    evaluations, first = 0, 1
    state = checkpoint.last() if checkpoint is not None else None
    if state is not None:
        restore_masks(masks, state["masks"])
        scores = [torch.tensor(s, dtype=dtype) for s in state["scores"]]
        evaluations, first = state["evaluations"], state["round"] + 1
        history = [(h, None) for h in state["history"]]
    for r in itertools.count(first):
        if state is not None and _decided(spec, masks):
            break
        if scores is None or rescore_every_round:
            scores = zeros_scores(net, input_shape=shape, bn=bn, dtype=dtype, abs_alphas=abs_alphas)
            evaluations += 1
        if rounds is not None and r >= rounds:
            break
        with torch.no_grad():
            if not _prune_ops(spec, masks, scores, ops_pruned_per_round):
                _prune_edges(spec, masks, scores)
        history.append((describe_masks(spec.op_names, masks), None))
        if checkpoint is not None:
            checkpoint.save({
                "round": r, "masks": masks_state(masks), "evaluations": evaluations,
                "scores": [s.tolist() for s in scores], "history": [h for h, _ in history],
            })  # fmt: skip
        if progress is not None:
            left = int(sum(int(m.sum()) for m in masks))
            progress(f"round {r}: {left} operations left")
        if _decided(spec, masks):
            break
    choice = single_choice(_final_choice(spec, masks, scores))
    if spec.edge_groups is None:
        _check_nb201_cell(spec, choice)
    arch = space.canonical(spec.arch_from_choice(choice))
    seconds = time.perf_counter() - start
    return SearchResult(FREEDARTS, arch, None, evaluations, seconds, history)
