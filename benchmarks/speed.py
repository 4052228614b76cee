"""Speed of the proxies on full-size NAS-Bench-201 networks, and of the vectorised per-sample
gradients and NTK Jacobian against their loop references (issue 8).

Three parts (``--parts``, default all), on ``--n`` NB201 architectures sampled with ``--seed``
(``NB201Space.sample``: the first ``k`` of a sample are the sample of ``k``):

* ``alone``: every registered proxy (or those of ``--proxies``) by itself, through
  :func:`trainfree.run.scoring.score_arch` with default settings (``ScoreConfig(device=...)``:
  each proxy's own batch size, image size, init, repeats and network-size overrides, CIFAR-10
  from ``$TRAINFREE_DATA``). Seconds per architecture are ``ScoreResult.seconds``: batch,
  build, init and every repeat, as ``trainfree score`` reports them. Also the process's CPU
  seconds (user + sys, all threads) over the same call, and the sys share of them.
* ``suite``: the seed suite (intrain, near, gradalign, tenas_ntk, tenas_lr) scored one after
  the other on each architecture, in one process; seconds per architecture are the sum.
* ``shared``: every proxy of ``--proxies`` (default all) on each architecture in one call of
  :func:`trainfree.run.scoring.score_proxies`, which builds one network per group of proxies
  with the same settings and computes their common intermediates once; compared per
  architecture with the sum of the same proxies' ``alone`` seconds.
* ``loop``: the fast paths against the loop references of ``tests/loop_reference.py``, each
  on the network and batch ``score_arch`` gives the proxy (one repeat, built afresh per path):
  per-sample CE gradients at GradAlign's setting (full size, batch 64, train mode; the proxy's
  own call, ``per_sample_grad_blocks`` with ``vmap(grad)``) against a loop of ``B`` single-sample
  backward passes; and the TE-NAS NTK rows at ``tenas_ntk``'s registered setting (batch, init,
  network size; BatchNorm coupling the batch in train mode), by the proxy's own call and by
  ``output_jacobian`` with ``jacrev``, against TE-NAS's loop of ``B`` backward passes over one
  forward with ``retain_graph``. Each path is timed to the proxy's value (the rows, then
  GradAlign's float64 Gram and alignment, or TE-NAS's condition number). Reported: the
  speed-up (median and spread of the per-architecture ratios loop / fast) and the largest
  differences of the rows (max |fast - loop|, and that over max |loop|) and of the proxy value
  computed from them (GradAlign's alignment, TE-NAS's condition number). ``--loop-n`` takes
  only the first architectures.

Method:

* Each (part, proxy) runs in a fresh process (``multiprocessing`` spawn), which imports torch,
  loads CIFAR-10, records its resident memory, then scores the first architecture once untimed
  (warm-up: lazy kernel set-up, first-touch of the allocator) before the timed ones.
* Peak memory on CPU: the peak resident set size of that process (``VmHWM`` in
  ``/proc/self/status``: the same high-water mark as ``getrusage``'s ``ru_maxrss``, but that
  one also counts the parent's memory at fork) minus its resident size before the warm-up, i.e.
  the most memory the proxy added at any moment, allocator caches included (tracemalloc does
  not see torch's C++ allocations). On CUDA: ``torch.cuda.max_memory_allocated`` (tensors
  only, no caching-allocator reserve or context), reset before each architecture; the table
  gives the largest over the architectures.
* Spread: median with the 10th and 90th percentiles over the architectures (``statistics``
  ``quantiles``, inclusive). Architectures whose score raised are counted as failures and left
  out of the timings.
* Threads: torch's defaults, or ``--threads`` (``torch.set_num_threads`` in each process).
* Layout: ``--memory-format`` (``ScoreConfig.memory_format``, default ``auto``: each proxy's
  measured preference; part of the resume key).
  ``OMP_*``/``MKL_*``/``MALLOC_*``/``GLIBC_TUNABLES``/``THP_*``/``LD_PRELOAD`` variables set
  for the run are printed with the machine and are part of the resume key.
* Resumable: every per-architecture measurement is appended to ``--results`` (JSON lines,
  default ``out/speed.jsonl``) as soon as it is taken, keyed by part, proxy, architecture,
  device, threads and those variables; a re-run measures only what is missing and prints the
  tables from the file. Trial runs with a small ``--n`` are therefore reused by the full run.

Run from the repository root (the full measurement; add ``--n 3 --proxies naswot,synflow`` for
a trial)::

    TRAINFREE_DATA=/work/shared/data python benchmarks/speed.py --n 100 --seed 0 --device cpu

It prints a Markdown section for BENCHMARKS.md on stdout and progress on stderr.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import inspect
import json
import math
import multiprocessing
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SEED_SUITE = ("intrain", "near", "gradalign", "tenas_ntk", "tenas_lr")
PARTS = ("alone", "suite", "shared", "loop")
TOGETHER = "together"  # the proxy name of part "shared" records
LOOP_PATHS = {"gradalign": ("proxy",), "tenas_ntk": ("proxy", "jacrev")}  # part "loop"
SUITE_TARGET, SUITE_AIM = 6.0, 3.0  # seconds per architecture (issue 8)
ENV_PREFIXES = ("OMP_", "MKL_", "KMP_", "GOMP_", "MALLOC_", "GLIBC_TUNABLES", "THP_", "LD_PRELOAD")
MB = 2**20

Record = dict[str, Any]


# ----------------------------------------------------------------------------- worker side


def _status_kb(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (Linux; elsewhere ``ru_maxrss`` stands in)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Meter:
    """Wall and CPU seconds, page faults and peak memory of one measured call."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device.startswith("cuda")
        self.baseline_kb = _status_kb("VmRSS")

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def measure(self, fn: Callable[[], Any]) -> tuple[Any, Record]:
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()
        self.sync()
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        value = fn()
        self.sync()
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        peak = (
            self.torch.cuda.max_memory_allocated() / MB
            if self.cuda
            else (_status_kb("VmHWM") - self.baseline_kb) / 1024
        )
        return value, {
            "wall": wall,
            "user": after.ru_utime - before.ru_utime,
            "sys": after.ru_stime - before.ru_stime,
            "minflt": after.ru_minflt - before.ru_minflt,
            "peak_mb": peak,
        }


def _setup(job: Record) -> Meter:
    """Threads, the dataset in memory, and the meter's memory baseline."""
    import torch

    from trainfree.data import DataMode, make_batch

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    make_batch("cifar10", batch_size=1, seed=0, mode=DataMode.LABELLED)  # loads the data set
    return Meter(job["device"])


def _append(path: str, record: Record) -> None:
    with open(path, "a") as file:
        file.write(json.dumps(record) + "\n")


def measure_scores(job: Record) -> None:
    """Part ``alone`` or ``suite``: ``score_arch`` of each proxy in ``job["names"]``, per arch."""
    from trainfree.run.scoring import ScoreConfig, score_arch
    from trainfree.spaces import get_space

    meter = _setup(job)
    space, config = (
        get_space("nb201"),
        ScoreConfig(device=job["device"], memory_format=job["memory_format"]),
    )
    for name in job["names"]:  # warm-up; a failure is recorded below, when timed
        with contextlib.suppress(Exception):
            score_arch(space, job["archs"][0], name, config)
    for arch in job["archs"]:
        for name in job["names"]:
            record = {**job["key"], "proxy": name, "arch": arch}
            try:
                result, cost = meter.measure(lambda n=name, a=arch: score_arch(space, a, n, config))
            except Exception as exc:
                _append(job["results"], {**record, "error": f"{type(exc).__name__}: {exc}"})
                continue
            _append(job["results"], {**record, **cost, "seconds": result.seconds})


def measure_shared(job: Record) -> None:
    """Part ``shared``: ``score_proxies`` of all of ``job["proxies"]`` together, per arch."""
    from trainfree.run.scoring import ScoreConfig, score_proxies
    from trainfree.spaces import get_space

    meter = _setup(job)
    space, config = (
        get_space("nb201"),
        ScoreConfig(device=job["device"], memory_format=job["memory_format"]),
    )
    with contextlib.suppress(Exception):  # warm-up
        score_proxies(space, job["archs"][0], job["proxies"], config)
    for arch in job["archs"]:
        record = {**job["key"], "proxy": TOGETHER, "arch": arch}
        try:
            _, cost = meter.measure(lambda a=arch: score_proxies(space, a, job["proxies"], config))
        except Exception as exc:
            _append(job["results"], {**record, "error": f"{type(exc).__name__}: {exc}"})
            continue
        _append(job["results"], {**record, **cost})


def _default(proxy: str, keyword: str) -> Any:
    """``proxy``'s default for one keyword: its registered params, else its signature's."""
    from trainfree.proxies import get_proxy

    spec = get_proxy(proxy)
    if keyword in spec.params:
        return spec.params[keyword]
    return inspect.signature(spec.fn).parameters[keyword].default


def _ce(logits, targets):
    import torch.nn.functional as F

    return F.cross_entropy(logits, targets, reduction="none")


def _logit_sums(logits, targets):
    return logits.flatten(1).sum(1)


def gradient_rows(setting: str, path: str, model, batch):
    """The rows of ``setting`` (a proxy of :data:`LOOP_PATHS`) computed by ``path``: "proxy"
    (the call the proxy itself makes, with its defaults), "jacrev" (``output_jacobian``
    vectorised) or "loop" (the reference of ``tests/loop_reference.py``)."""
    from loop_reference import coupled_rows_loop, per_sample_grads_loop

    from trainfree.proxies.functional import flatten_rows, output_jacobian, per_sample_grad_blocks

    x, y = batch.inputs, batch.targets
    chunk = _default(setting, "chunk_size")
    if setting == "tenas_ntk" and path == "loop":
        return coupled_rows_loop(model, x, params="weight")
    if path == "loop":
        return per_sample_grads_loop(model, x, y, _ce)
    if path == "jacrev":
        keywords = inspect.signature(output_jacobian).parameters
        how = {"method": "vmap"} if "method" in keywords else {}  # it may also offer a loop
        return output_jacobian(model, x, params_filter="weight", chunk_size=chunk, **how)
    loss, params = (_logit_sums, "weight") if setting == "tenas_ntk" else (_ce, None)
    coupled = _default(setting, "coupled")
    blocks = per_sample_grad_blocks(
        model, x, y, loss, params=params, chunk_size=chunk, coupled=coupled
    )
    return flatten_rows(blocks) if setting == "tenas_ntk" else blocks  # the Gram takes blocks


def proxy_value(setting: str, rows) -> float:
    """What the proxy makes of the rows (or blocks): TE-NAS's condition number, GradAlign's
    alignment of the Gram matrix."""
    from trainfree.proxies.gradalign import alignment, gram_of_rows
    from trainfree.proxies.tenas import condition_number

    return condition_number(rows) if setting == "tenas_ntk" else alignment(gram_of_rows(rows))


def measure_loops(job: Record) -> None:
    """Part ``loop``: each path of the setting and the loop reference on each arch, on the same
    freshly built network and batch, timed and compared with the loop's rows."""
    import torch

    from trainfree.proxies import get_proxy
    from trainfree.proxies.functional import flatten_rows
    from trainfree.run.scoring import ScoreConfig, prepare
    from trainfree.spaces import get_space

    meter = _setup(job)
    space, config = (
        get_space("nb201"),
        ScoreConfig(device=job["device"], memory_format=job["memory_format"]),
    )
    setting = job["names"][0]
    spec = get_proxy(setting)
    paths = ("loop", *LOOP_PATHS[setting])

    def run(arch: str, path: str):
        model, batch = prepare(space, space.canonical(arch), spec, config)
        model.train(spec.train_mode)
        (grads, value), cost = meter.measure(
            lambda: (g := gradient_rows(setting, path, model, batch), proxy_value(setting, g))
        )
        return (grads if isinstance(grads, torch.Tensor) else flatten_rows(grads)), value, cost

    for path in paths:  # warm-up
        run(job["archs"][0], path)
    for arch in job["archs"]:
        record = {**job["key"], "proxy": setting, "arch": arch, "paths": {}}
        for path in paths:
            rows, value, cost = run(arch, path)
            record["paths"][path] = {**cost, "value": value}
            if path == "loop":
                loop, scale = rows, float(rows.abs().max())
                record["rows"] = list(rows.shape)
                continue
            diff = float((rows - loop).abs().max())
            record["paths"][path].update(max_abs=diff, max_rel=diff / scale if scale else 0.0)
            del rows
        _append(job["results"], record)


def machine_info(device: str, threads: int | None) -> Record:
    """torch's version and thread counts as a measuring process sees them."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop": torch.get_num_interop_threads(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def registered_proxies() -> list[str]:
    from trainfree.proxies import PROXIES

    return list(PROXIES.names())


def sample_archs(n: int, seed: int) -> list[str]:
    from trainfree.spaces import get_space

    return get_space("nb201").sample(n, seed=seed)


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new interpreter (spawn): fresh memory high-water mark and caches."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(fn, *args).result()


# ----------------------------------------------------------------------------- tables


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, 10th and 90th percentile (NaN when empty)."""
    if not values:
        return math.nan, math.nan, math.nan
    if len(values) == 1:
        return values[0], values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[0], deciles[-1]


def fmt(x: float, digits: int = 3) -> str:
    if math.isnan(x):
        return "–"
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:.0f}"


def table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def alone_table(records: dict[str, list[Record]], names: list[str], cuda: bool) -> str:
    memory = "peak GPU tensors MB" if cuda else "peak extra RSS MB"
    header = ["proxy", "archs", "median s/arch", "p10", "p90", "CPU s/arch", "sys %", memory]
    rows = []
    for name in names:
        ok = [r for r in records.get(name, []) if "error" not in r]
        failed = len(records.get(name, [])) - len(ok)
        med, p10, p90 = spread([r["seconds"] for r in ok])
        cpu = [r["user"] + r["sys"] for r in ok]
        sys_share = 100 * sum(r["sys"] for r in ok) / sum(cpu) if ok and sum(cpu) > 0 else math.nan
        peak = max((r["peak_mb"] for r in ok), default=math.nan)
        count = f"{len(ok)}" + (f" ({failed} failed)" if failed else "")
        cpu_median = statistics.median(cpu) if cpu else math.nan
        rows.append([name, count, *map(fmt, (med, p10, p90, cpu_median, sys_share, peak))])
    return table(header, rows)


def _ok(record: Record | None) -> bool:
    return record is not None and "error" not in record


def suite_table(records: list[Record]) -> str:
    by_arch: dict[str, dict[str, Record]] = {}
    for r in records:
        by_arch.setdefault(r["arch"], {})[r["proxy"]] = r
    rows = []
    for name in SEED_SUITE:
        ok = [a[name]["seconds"] for a in by_arch.values() if _ok(a.get(name))]
        rows.append([name, str(len(ok)), *map(fmt, spread(ok))])
    totals = [
        sum(a[n]["seconds"] for n in SEED_SUITE)
        for a in by_arch.values()
        if all(_ok(a.get(n)) for n in SEED_SUITE)
    ]
    med, p10, p90 = spread(totals)
    rows.append(["**suite total**", str(len(totals)), f"**{fmt(med)}**", fmt(p10), fmt(p90)])
    verdict = f"Target: under {SUITE_TARGET:g} s per architecture (aim {SUITE_AIM:g} s): "
    if totals:
        under = sum(t < SUITE_TARGET for t in totals)
        verdict += (
            f"median {fmt(med)} s, {'met' if med < SUITE_TARGET else 'not met'}"
            f"{' (aim met too)' if med < SUITE_AIM else ''}; "
            f"{under}/{len(totals)} architectures under the target."
        )
    else:
        verdict += "no complete architecture."
    header = ["proxy (in the suite)", "archs", "median s/arch", "p10", "p90"]
    return table(header, rows) + "\n\n" + verdict


def shared_table(records: list[Record], alone: list[Record], names: list[str]) -> str:
    """Together vs the sum of alone, on the architectures measured both ways."""
    by_arch: dict[str, dict[str, float]] = {}
    for r in alone:
        if "error" not in r:
            by_arch.setdefault(r["arch"], {})[r["proxy"]] = r["seconds"]
    pairs = [
        (r["wall"], sum(by_arch[r["arch"]][n] for n in names))
        for r in records
        if "error" not in r and set(names) <= set(by_arch.get(r["arch"], {}))
    ]
    if not pairs:
        return "No architecture measured both together and alone."
    together, summed = (statistics.median(p[i] for p in pairs) for i in (0, 1))
    med, p10, p90 = spread([s / t for t, s in pairs])
    header = ["proxies", "archs", "together median s/arch", "alone, summed, median s/arch"]
    header.append("speed-up (median, p10–p90)")
    row = [str(len(names)), str(len(pairs)), fmt(together), fmt(summed)]
    row.append(f"{fmt(med)}× ({fmt(p10)}–{fmt(p90)})")
    return table(header, [row])


def loop_table(records: dict[str, list[Record]]) -> str:
    header = ["rows of", "setting", "fast path", "archs", "fast s (median)", "loop s (median)"]
    header += ["speed-up (median, p10–p90)", "max abs diff", "max rel diff", "value rel diff"]
    rows = []
    for setting, paths in LOOP_PATHS.items():
        done = records.get(setting, [])
        for path in paths if done else ():
            runs = [(r["paths"][path], r["paths"]["loop"]) for r in done]
            med, p10, p90 = spread([loop["wall"] / fast["wall"] for fast, loop in runs])
            value_diff = max(
                abs(fast["value"] - loop["value"]) / max(abs(loop["value"]), 1e-300)
                for fast, loop in runs
            )
            fast_s, loop_s = (statistics.median(run[i]["wall"] for run in runs) for i in (0, 1))
            worst_abs, worst_rel = (
                max(fast[k] for fast, _ in runs) for k in ("max_abs", "max_rel")
            )
            rows.append([setting, setting_text(setting), path_text(setting, path), str(len(runs))])
            rows[-1] += [fmt(fast_s), fmt(loop_s), f"{fmt(med)}× ({fmt(p10)}–{fmt(p90)})"]
            rows[-1] += [f"{worst_abs:.2e}", f"{worst_rel:.2e}", f"{value_diff:.2e}"]
    return table(header, rows)


def setting_text(setting: str) -> str:
    """Batch, network size and init of a part-``loop`` setting, from its registered spec."""
    from trainfree.proxies import get_proxy

    spec = get_proxy(setting)
    size = ", ".join(f"{k}={v}" for k, v in spec.build_overrides.items()) or "C=16, N=5"
    what = "Σ logits, BN coupled" if setting == "tenas_ntk" else "CE, one sample alone"
    return f"batch {spec.batch_size}, {size}, init {spec.default_init}; {what}"


def path_text(setting: str, path: str) -> str:
    chunk = _default(setting, "chunk_size")
    if path == "jacrev":
        return f"output_jacobian, jacrev (chunk {chunk})"
    coupled = _default(setting, "coupled")
    how = "coupled (output_jacobian)" if coupled else "vmap(grad), Gram summed over blocks"
    return f"as {setting} runs it: per_sample_grad_blocks, {how}, chunk {chunk}"


# ----------------------------------------------------------------------------- driver


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def env_settings() -> dict[str, str]:
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)}


def load(path: Path) -> list[Record]:
    if not path.exists():
        return []
    with path.open() as file:
        return [json.loads(line) for line in file if line.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="architectures (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="architecture sample seed")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--proxies", help="comma-separated proxies for part 'alone' (default all)")
    parser.add_argument("--parts", default=",".join(PARTS), help="alone,suite,loop (default all)")
    parser.add_argument("--loop-n", type=int, help="architectures for part 'loop' (default --n)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default torch's)")
    parser.add_argument(
        "--memory-format",
        default="auto",
        choices=("auto", "channels_last", "contiguous"),
        help="ScoreConfig.memory_format of every part (default auto: each proxy's own)",
    )
    parser.add_argument("--results", type=Path, default=Path("out/speed.jsonl"))
    args = parser.parse_args(argv)
    args.parts = args.parts.split(",")
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)} (known: {', '.join(PARTS)})")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    archs = sample_archs(args.n, args.seed)
    loop_archs = archs[: args.loop_n] if args.loop_n else archs
    names = args.proxies.split(",") if args.proxies else registered_proxies()
    unknown = set(names) - set(registered_proxies())
    if unknown:
        sys.exit(f"unknown proxies: {', '.join(sorted(unknown))}")
    key = {
        "device": args.device,
        "threads": args.threads,
        "env": env_settings(),
        "memory_format": args.memory_format,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)

    jobs = [("alone", [n], measure_scores, archs) for n in names] if "alone" in args.parts else []
    if "suite" in args.parts:
        jobs.append(("suite", list(SEED_SUITE), measure_scores, archs))
    if "shared" in args.parts:
        jobs.append(("shared", [TOGETHER], measure_shared, archs))
    if "loop" in args.parts:
        jobs += [("loop", [n], measure_loops, loop_archs) for n in LOOP_PATHS]
    for part, job_names, worker, job_archs in jobs:
        done = {
            (r["proxy"], r["arch"])
            for r in load(args.results)
            if r["part"] == part and _matches(r, key)
        }
        todo = [a for a in job_archs if any((n, a) not in done for n in job_names)]
        if not todo:
            continue
        label = f"{part} {'+'.join(job_names)}"
        print(f"[speed] {label}: {len(todo)} architectures ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        job = {
            "names": job_names,
            "archs": todo,
            "results": str(args.results),
            "proxies": names,
            "key": {"part": part, **key},
            **key,
        }
        try:
            in_fresh_process(worker, job)
        except concurrent.futures.process.BrokenProcessPool as exc:  # killed (OOM?)
            print(f"[speed] {label}: worker died ({exc}); rerun to resume", file=sys.stderr)
        print(f"[speed] {label}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    wanted = {"alone": set(archs), "suite": set(archs), "shared": set(archs)}
    wanted["loop"] = set(loop_archs)
    records = {part: [] for part in PARTS}
    for r in load(args.results):
        if _matches(r, key) and r["arch"] in wanted[r["part"]]:
            records[r["part"]].append(r)
    info = in_fresh_process(machine_info, args.device, args.threads)
    print(report(args, info, names, records))


def _matches(record: Record, key: Record) -> bool:
    """Whether ``record`` was measured under ``key`` (records older than the ``memory_format``
    key were all channels-last, the library's default)."""
    record = {"memory_format": "channels_last", **record}
    return all(record[k] == v for k, v in key.items())


def group(records: list[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = {}
    for r in records:
        grouped.setdefault(r["proxy"], []).append(r)
    return grouped


def machine_line(info: Record) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    line = (
        f"{cpu_model()}, {cores} cores, torch {info['torch']}, "
        f"torch.get_num_threads() = {info['threads']} (interop {info['interop']})"
    )
    env = " ".join(f"{k}={v}" for k, v in env_settings().items())
    if env:
        line += f", env {env}"
    return f"{info['gpu']} (GPU); {line}" if "gpu" in info else line


def report(
    args: argparse.Namespace, info: Record, names: list[str], records: dict[str, list[Record]]
) -> str:
    cuda = args.device.startswith("cuda")
    out = [
        f"## Proxy speed on full-size NB201 ({args.device})",
        "",
        f"Command: `python benchmarks/speed.py {shlex.join(sys.argv[1:])}` (CIFAR-10 batches, "
        f"{args.n} NB201 architectures sampled with seed {args.seed}).  ",
        f"Machine: {machine_line(info)}.  ",
        f"Date: {datetime.date.today().isoformat()}.",
    ]
    if "alone" in args.parts:
        peak = (
            "`torch.cuda.max_memory_allocated`"
            if cuda
            else "resident-memory high-water mark (VmHWM) of a fresh process per proxy above its "
            "size after imports and data loading"
        )
        out += [
            "",
            "### Each proxy alone (`score_arch`, default settings)",
            "",
            "Seconds per architecture: batch, build, init and every repeat. CPU s: user + sys of "
            f"the process (all threads). Peak: {peak}.",
            "",
            alone_table(group(records["alone"]), names, cuda),
        ]
    if "suite" in args.parts:
        out += [
            "",
            "### Seed suite together (one process, one proxy after the other per architecture)",
            "",
            suite_table(records["suite"]),
        ]
    if "shared" in args.parts:
        out += [
            "",
            "### Shared work: every proxy on one architecture in one call",
            "",
            "`score_proxies` (one network and batch per group of proxies with equal settings; "
            "InTrain's three views, GradAlign's two, snip/plain/grad_norm and swap/swap_reg "
            "share their passes) against the sum of the same proxies' seconds alone.",
            "",
            shared_table(records["shared"], records["alone"], names),
        ]
    if "loop" in args.parts:
        out += [
            "",
            f"### Fast path against the loop reference ({args.loop_n or args.n} architectures)",
            "",
            "Speed-up: loop seconds / fast seconds per architecture (one repeat). Differences, "
            "the largest over the architectures: max |fast − loop| of the rows, that over "
            "max |loop|, and the relative difference of the proxy value the rows give. A row "
            "difference far above float32 rounding means a ReLU whose pre-activation lies "
            "within rounding of 0 took the other side in one of the two computations (both "
            "are valid subgradients); the value difference shows what that does to the score.",
            "",
            loop_table(group(records["loop"])),
        ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
