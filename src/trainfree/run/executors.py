"""Executors: where scoring tasks run -- in-process, in a pool of worker processes, or on Ray.

A :class:`Task` is one architecture and the proxies that share its preparation (a group of
:func:`trainfree.run.scoring.group_by_preparation`, scored by
:func:`~trainfree.run.scoring.score_group`, which computes their common work once). Every
executor maps tasks to one :class:`Outcome` per proxy and yields outcomes as tasks finish; a
score is a pure function of (architecture, proxy, settings), so all executors give the same
values. A failing proxy becomes a failure record and the run goes on; with a time limit, a task
that runs too long (all its proxies together) is stopped (its worker killed and replaced) and
each of its proxies recorded as timed out.

Spaces and proxies registered outside ``trainfree`` (a user's own module) are imported in the
workers before a task runs, so custom proxies work with every executor. (One registered in a
script's ``__main__`` reaches process workers, which re-import the script, but not Ray's: put
it in a module.)
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainfree.errors import TrainfreeError
from trainfree.variants import split_variant

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.process import BaseProcess

    from trainfree.run.scoring import ScoreConfig, ScoreResult

EXECUTORS = ("local", "ray")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
Plugins = tuple[tuple[str, str], ...]  # (module, the sys.path folder it is imported from)


@dataclass(frozen=True)
class Task:
    """Scores to compute: ``arch`` with each of ``proxies`` (of one preparation); picklable."""

    space: str
    arch: str
    proxies: tuple[str, ...]
    config: ScoreConfig


@dataclass(frozen=True)
class Outcome:
    """One proxy's result on a task's architecture, or the one-line reason it failed."""

    task: Task
    proxy: str
    result: ScoreResult | None
    error: str | None
    seconds: float
    cached: bool = False  # read from the result store, not computed now
    node: str | None = None  # the Ray node that computed it (Ray's node id)


def failed(task: Task, error: str, seconds: float) -> list[Outcome]:
    """The same failure for every proxy of ``task``."""
    return [Outcome(task, proxy, None, error, seconds) for proxy in task.proxies]


def _describe(exc: BaseException) -> str:
    """One line for a failure record: the message of a user-facing error, else type and message."""
    text = str(exc) if isinstance(exc, TrainfreeError) else f"{type(exc).__name__}: {exc}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def run_task(task: Task) -> list[Outcome]:
    """Compute one task, turning any exception into a failure record."""
    from trainfree.run.scoring import score_group
    from trainfree.spaces import get_space

    start = time.perf_counter()
    try:
        results = score_group(get_space(task.space), task.arch, task.proxies, task.config)
    except Exception as exc:  # one bad network must not stop a run
        return failed(task, _describe(exc), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    return [
        Outcome(task, proxy, None, _describe(result), seconds)
        if isinstance(result, Exception)
        else Outcome(task, proxy, result, None, result.seconds)
        for proxy, result in zip(task.proxies, results, strict=True)
    ]


def _plugins(task: Task) -> Plugins:
    """The modules outside ``trainfree`` that registered ``task``'s space and proxy."""
    from trainfree.proxies import get_proxy
    from trainfree.spaces import SPACES

    owners = set()  # an unknown name is left for the worker to report as a failure
    base, _ = split_variant(task.space)
    if base in SPACES:
        owners.add(SPACES.get(base).__module__)
    for proxy in task.proxies:
        with contextlib.suppress(TrainfreeError):
            owners.add(getattr(get_proxy(proxy).fn, "__module__", ""))
    found = []
    for name in sorted(owners):
        file = getattr(sys.modules.get(name), "__file__", None)
        if name.partition(".")[0] in ("trainfree", "__main__", "") or file is None:
            continue
        depth = name.count(".") + (Path(file).stem == "__init__")
        found.append((name, str(Path(file).parents[depth])))
    return tuple(found)


def _import_plugins(task: Task, plugins: Plugins) -> list[Outcome] | None:
    """Import the modules that registered ``task`` in a worker; a failure record if one fails."""
    for name, folder in plugins:
        if name in sys.modules:
            continue
        if folder not in sys.path:
            sys.path.append(folder)
        try:
            importlib.import_module(name)
        except Exception as exc:
            return failed(task, f"cannot import {name} in the worker: {_describe(exc)}", 0.0)
    return None


def _run_with_plugins(task: Task, plugins: Plugins) -> list[Outcome]:
    """:func:`run_task` in a worker, after importing the modules that registered the task."""
    return _import_plugins(task, plugins) or run_task(task)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_limits(workers: int | None, time_limit: float | None) -> None:
    if workers is not None and workers < 1:
        raise TrainfreeError(f"workers must be at least 1, got {workers}")
    if time_limit is not None and not time_limit > 0:
        raise TrainfreeError(f"time limit must be a positive number of seconds, got {time_limit}")


class Executor:
    """Base class: ``map_unordered(tasks)`` yields outcomes; ``close()`` frees the workers."""

    name = "executor"

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (nothing to release by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Runs tasks one after another in this process."""

    name = "local"

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        for task in tasks:
            yield from run_task(task)


_STARTED = "started"


def _exit_with_pool(lifeline: Connection) -> None:
    """Exit the worker as soon as the pool's end of ``lifeline`` closes (or its process dies,
    even by SIGKILL), so no orphan goes on computing -- or hanging -- after its parent."""
    with contextlib.suppress(EOFError):
        lifeline.recv_bytes()
    os._exit(1)


def _worker_main(conn: Connection, lifeline: Connection, threads: int) -> None:
    """A pool worker: receive (task, plugins), say when it starts, send the outcome back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_pool, args=(lifeline,), daemon=True).start()
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    import torch

    torch.set_num_threads(threads)
    importlib.import_module("trainfree.run.scoring")  # the heavy imports, before any time limit
    while True:
        try:
            task, plugins = conn.recv()
        except EOFError:  # the pool closed the pipe (or its process died)
            return
        unimportable = _import_plugins(task, plugins)
        conn.send(_STARTED)
        conn.send(unimportable or run_task(task))


def _context() -> BaseContext:
    """Where workers come from: a forkserver that has imported torch and the scorers once.

    New workers then start in milliseconds instead of re-importing torch for seconds; spawn is
    the fallback where there is no forkserver. Never plain fork: forking a process whose torch
    has started threads is unsafe.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "trainfree.run.runner"])
    return context


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    lifeline: Connection  # never written: the worker exits when it closes
    task: Task | None = None
    started: float | None = None  # monotonic time the current task began running

    def stop(self, grace: float = 0.0) -> None:
        """Close the pipes (the worker exits); kill it if still alive after ``grace`` seconds."""
        self.conn.close()
        self.lifeline.close()
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class ProcessExecutor(Executor):
    """A pool of ``workers`` processes, each running one task at a time.

    Each worker uses ``cores // workers`` threads (torch and the OMP/MKL/OpenBLAS variables).
    Workers are forked from a forkserver that preloads torch (see :func:`_context`), started on
    first use and kept for later calls until :meth:`close`.
    With ``time_limit`` (seconds, counted from when the worker starts the task), a task that
    runs longer is recorded as timed out and its worker killed and replaced; a worker that
    dies (a crash in native code, the OOM killer) is recorded the same way.
    """

    name = "process"

    def __init__(self, workers: int = 2, time_limit: float | None = None) -> None:
        _check_limits(workers, time_limit)
        self.workers = workers
        self.time_limit = time_limit
        self.threads = max(1, _cores() // workers)
        self._context = _context()
        self._idle: list[_Worker] = []

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        queue = iter(tasks)
        busy: list[_Worker] = []
        try:
            while True:
                while len(busy) < self.workers and (task := next(queue, None)) is not None:
                    busy.append(self._submit(task))
                if not busy:
                    return
                ready = [w.conn for w in busy] + [w.process.sentinel for w in busy]
                wait(ready, timeout=self._next_deadline(busy))
                finished = [(w, o) for w in busy if (o := self._poll(w)) is not None]
                for worker, outcomes in finished:
                    busy.remove(worker)
                    yield from outcomes
        finally:  # abandoned mid-run: in-flight tasks would answer the next call
            for worker in busy:
                worker.stop()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().stop(grace=5.0)

    def _submit(self, task: Task) -> _Worker:
        worker = self._idle.pop() if self._idle else self._spawn()
        worker.task, worker.started = task, None
        try:
            worker.conn.send((task, _plugins(task)))
        except OSError:  # the idle worker died: replace it
            worker.stop()
            worker = self._spawn()
            worker.task = task
            worker.conn.send((task, _plugins(task)))
        return worker

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        lifeline, held = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker_main,
            args=(child, lifeline, self.threads),
            daemon=True,
            name="trainfree-worker",
        )
        process.start()
        child.close()
        lifeline.close()
        return _Worker(process, parent, held)

    def _next_deadline(self, busy: list[_Worker]) -> float | None:
        starts = [w.started for w in busy if w.started is not None]
        if self.time_limit is None or not starts:
            return None
        return max(0.0, min(starts) + self.time_limit - time.monotonic())

    def _poll(self, worker: _Worker) -> list[Outcome] | None:
        """The worker's outcomes if its task is over (done, dead or overdue), else ``None``."""
        task = worker.task
        assert task is not None
        now = time.monotonic()
        alive = True
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if isinstance(message, list):
                    worker.task = None
                    self._idle.append(worker)
                    return message
                worker.started = now
        except (EOFError, OSError):  # the pipe broke: the worker died
            alive = False
        elapsed = now - worker.started if worker.started is not None else 0.0
        if not alive or not worker.process.is_alive():
            worker.stop()
            return failed(task, f"worker died (exit code {worker.process.exitcode})", elapsed)
        if self.time_limit is not None and elapsed > self.time_limit:
            worker.stop()
            return failed(task, f"timed out after {self.time_limit:g}s", elapsed)
        return None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TrainfreeError("Ray is not installed: pip install 'trainfree[ray]'") from None
    return ray


RAY_TOKEN_HELP = (
    "give this process the head's token (`ray get-auth-token` there) in RAY_AUTH_TOKEN, "
    "in a file named by RAY_AUTH_TOKEN_PATH or in ~/.ray/auth_token"
)


def _run_on_ray(task: Task, plugins: Plugins) -> list[Outcome]:
    """:func:`_run_with_plugins` in a Ray worker; each outcome names the node that computed it."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    return [replace(o, node=node) for o in _run_with_plugins(task, plugins)]


def _split_address(address: str) -> tuple[str, int]:
    """``host`` and ``port`` of ``[ray://]host:port`` (a one-line error for anything else)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise TrainfreeError(f"--ray-address must be HOST:PORT (the head's port), got {address!r}")
    return host.strip("[]"), int(port)


@contextlib.contextmanager
def _stderr_into(sink: Any) -> Iterator[None]:
    """Send this process's file descriptor 2 (Ray's C++ core logs there too) to ``sink``."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _read_ray_auth_settings() -> None:
    """Make this process's Ray read its token settings from the environment now.

    Ray reads ``RAY_AUTH_MODE`` and the token once, when first asked; a program that sets them
    later (or changes them between clusters) would otherwise join with stale ones. Token mode
    is switched on when the mode is unset and a token is available, Ray's rule for a local
    cluster.
    """
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available,
    )
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _join_cluster(ray: Any, address: str) -> None:
    """``ray.init(address=...)`` with Ray's token authentication; failures are one line.

    A cluster started the documented way with token authentication (``RAY_AUTH_MODE=token``)
    rejects a driver without its token, and Ray's driver sends one only in token mode. So when
    ``RAY_AUTH_MODE`` is unset and a token is available (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``, Ray's own sources), token mode is switched
    on -- which a cluster without authentication accepts too. The port is tried first, so a
    refused or unreachable address fails at once instead of after Ray's retries; Ray's own
    connection logs are kept off the terminal and read to name the cause.
    """
    host, port = _split_address(address)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TrainfreeError(
            f"cannot reach a Ray cluster at {address} ({reason}): start its head with "
            f"`ray start --head --port={port}` or fix --ray-address"
        ) from None
    with tempfile.TemporaryFile("w+") as log:
        try:
            with _stderr_into(log):
                _read_ray_auth_settings()
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except Exception as exc:
            log.seek(0)
            rejected = "InvalidAuthToken" in log.read()
            if rejected or isinstance(exc, ray.exceptions.AuthenticationError):
                raise TrainfreeError(
                    f"the Ray cluster at {address} needs its authentication token: "
                    f"{RAY_TOKEN_HELP}"
                ) from None
            if "No node info found" in str(exc):  # Ray joins a driver through a local node
                raise TrainfreeError(
                    f"this machine runs no node of the Ray cluster at {address}: run trainfree "
                    f"on its head, or join this machine with `ray start --address={address}`"
                ) from None
            raise TrainfreeError(
                f"cannot join the Ray cluster at {address}: {_describe(exc)}"
            ) from None


def _ray_messages_to_stderr() -> None:
    """Send the messages Ray's driver prints about the cluster (a node died, a task was killed
    for memory) to stderr, where Ray prints them to stdout, so ``--json`` output stays JSON."""
    from ray._private import worker

    print_to_stdstream = worker.print_to_stdstream
    if getattr(print_to_stdstream, "to_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        print_to_stdstream({**data, "is_err": True}, ignore_prefix)

    to_stderr.to_stderr = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


class RayExecutor(Executor):
    """Tasks as Ray remote functions (one CPU each) on a local or remote Ray cluster.

    ``address`` joins an existing cluster (see :func:`_join_cluster`); without it a local Ray
    with ``workers`` CPUs (default: all) is started, unless this process already initialised
    Ray, which is then reused. At most one task per CPU is in flight, so the ``time_limit``
    (seconds from submission, which includes a fresh Ray worker's start-up) is a bound on
    running time; an overdue task is cancelled with ``ray.cancel(force=True)``, which kills its
    worker (cancelled tasks are not retried). A task whose worker or node dies (a node leaves
    the cluster) is run again elsewhere up to ``retries`` times (Ray's ``max_retries``) before
    it is recorded as failed. Ray gives each task one thread (``num_cpus=1``); each outcome
    names the node that computed it (:attr:`Outcome.node`).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        time_limit: float | None = None,
        retries: int = 3,
    ) -> None:
        _check_limits(workers, time_limit)
        self.ray = _import_ray()
        self.time_limit = time_limit
        self._owns_ray = not self.ray.is_initialized()
        if self._owns_ray and address:
            _join_cluster(self.ray, address)
        elif self._owns_ray:
            self.ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        _ray_messages_to_stderr()
        self.workers = workers or max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self._remote = self.ray.remote(num_cpus=1, max_retries=retries)(_run_on_ray)

    def map_unordered(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        queue = iter(tasks)
        running: dict[Any, tuple[Task, float]] = {}
        try:
            while True:
                while len(running) < self.workers and (task := next(queue, None)) is not None:
                    running[self._remote.remote(task, _plugins(task))] = (task, time.monotonic())
                if not running:
                    return
                ready, _ = self.ray.wait(list(running), timeout=self._next_deadline(running))
                for ref in ready:
                    task, submitted = running.pop(ref)
                    yield from self._get(ref, task, submitted)
                for ref in self._overdue(running):
                    task, submitted = running.pop(ref)
                    self.ray.cancel(ref, force=True)
                    seconds = time.monotonic() - submitted
                    yield from failed(task, f"timed out after {self.time_limit:g}s", seconds)
        finally:
            for ref in running:
                self.ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()

    def _get(self, ref: Any, task: Task, submitted: float) -> list[Outcome]:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:  # the worker crashed or was cancelled
            return failed(task, _describe(exc), time.monotonic() - submitted)

    def _next_deadline(self, running: dict[Any, tuple[Task, float]]) -> float | None:
        if self.time_limit is None:
            return None
        first = min(submitted for _, submitted in running.values())
        return max(0.0, first + self.time_limit - time.monotonic())

    def _overdue(self, running: dict[Any, tuple[Task, float]]) -> list[Any]:
        if self.time_limit is None:
            return []
        now = time.monotonic()
        return [ref for ref, (_, submitted) in running.items() if now - submitted > self.time_limit]


def make_executor(
    name: str = "local",
    *,
    workers: int = 1,
    address: str | None = None,
    time_limit: float | None = None,
) -> Executor:
    """The executor named on the command line.

    ``local`` runs in this process with ``workers=1`` and no time limit, else in a
    :class:`ProcessExecutor` (a time limit needs a process that can be killed). ``ray`` runs on
    Ray; there ``workers`` caps a local Ray's CPUs and the tasks in flight, and the default of 1
    means "all CPUs" (``--workers 1`` with Ray would be pointless).
    """
    _check_limits(workers, time_limit)
    key = name.lower()
    if key not in EXECUTORS:
        raise TrainfreeError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
    if key == "ray":
        return RayExecutor(address, workers if workers > 1 else None, time_limit)
    if address is not None:
        raise TrainfreeError("--ray-address needs --executor ray")
    if workers == 1 and time_limit is None:
        return LocalExecutor()
    return ProcessExecutor(workers, time_limit)
