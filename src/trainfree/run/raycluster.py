"""A Ray cluster of several nodes on this machine's loopback interface (tests, benchmarks, trials).

Every node is started with ``ray start`` -- a head, then workers joining it with
``--address`` -- exactly as on a real cluster, but with every node's address on the loopback
interface, so no traffic ever leaves the machine. The address is ``127.0.0.2``, not
``127.0.0.1``: Ray 2.x rewrites a literal ``127.0.0.1``/``localhost`` node or cluster address
into the machine's network address (``resolve_ip_for_localhost``), and the switch that stops it
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) also forbids a second node. (Only a node address of
exactly ``127.0.0.1`` makes Ray's GCS and raylets listen on loopback alone; with ``127.0.0.2``
they listen on every interface, though nothing connects to any but loopback.) The cluster uses Ray's
token authentication (``RAY_AUTH_MODE=token``) with a fresh token written under ``root``.

Each ``ray start`` runs in a process group of its own, which all of that node's daemons
inherit; :meth:`LoopbackCluster.stop` kills exactly those processes and their children, the
Ray workers (``ray stop`` would stop every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from trainfree.errors import TrainfreeError

LOOPBACK = "127.0.0.2"
OBJECT_STORE_BYTES = 100 * 2**20  # Ray's smallest object store is 75 MiB


def _ray_command() -> str:
    """The ``ray`` command of this Python's environment (or else the one on the PATH)."""
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.is_file() else shutil.which("ray")
    if found is None:
        raise TrainfreeError("the `ray` command is not installed: pip install 'trainfree[ray]'")
    return found


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on at ``host`` now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port`` now."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


class LoopbackCluster:
    """``nodes`` Ray nodes of ``cpus`` CPUs each on ``host`` (a loopback address), under ``root``.

    ``env`` is added to the nodes' environment (e.g. Ray's ``RAY_health_check_*`` settings).
    :attr:`env` is what a driver needs to join: the token mode and the token file.
    """

    def __init__(
        self,
        root: Path,
        nodes: int = 2,
        cpus: int = 1,
        host: str = LOOPBACK,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root, self.nodes, self.cpus, self.host = Path(root), nodes, cpus, host
        self.port = free_port(host)
        self.token_path = self.root / "auth_token"
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path)}
        self._node_env = {**(env or {}), **self.env}
        self._groups: list[int] = []

    @property
    def address(self) -> str:
        """The head's ``host:port``, for ``--ray-address``."""
        return f"{self.host}:{self.port}"

    def start(self) -> LoopbackCluster:
        """Start the head and join the other nodes to it; a one-line error if Ray cannot."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.token_path.write_text(secrets.token_hex(32))
        self.token_path.chmod(0o600)
        try:
            for node in range(self.nodes):
                self._start_node(node)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, node: int) -> None:
        common = [
            f"--node-ip-address={self.host}",
            f"--num-cpus={self.cpus}",
            f"--temp-dir={self.root / f'node{node}'}",
            f"--object-store-memory={OBJECT_STORE_BYTES}",
            "--disable-usage-stats",
        ]
        if node == 0:
            role = ["--head", f"--port={self.port}", "--include-dashboard=false",
                    f"--dashboard-port={free_port(self.host)}"]  # fmt: skip
        else:
            role = [f"--address={self.address}"]
        log = self.root / f"node{node}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [_ray_command(), "start", *role, *common],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self._node_env},
                start_new_session=True,  # its own process group, which its daemons keep
            )
            self._groups.append(process.pid)
            code = process.wait(timeout=300)
        if code != 0:
            tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
            raise TrainfreeError(f"`ray start` for node {node} failed: {tail[0]} (see {log})")

    def pids(self, node: int, name: str | None = None) -> list[int]:
        """The live processes of ``node`` (0 is the head): its daemons, which keep the process
        group of its ``ray start``, and their children, among them the Ray workers (which get
        groups of their own); optionally only those named ``name``."""
        table = {}  # pid -> (name, parent, group) of every live process
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            except OSError:  # it has just ended
                continue
            comm, _, rest = stat.rpartition(")")
            fields = rest.split()  # state, parent, group, ...
            if fields and fields[0] != "Z":
                table[int(entry.name)] = (comm.partition("(")[2], int(fields[1]), int(fields[2]))
        daemons = {pid for pid, (_, _, group) in table.items() if group == self._groups[node]}
        ours = daemons | {pid for pid, (_, parent, _) in table.items() if parent in daemons}
        return sorted(pid for pid in ours if name is None or table[pid][0] == name)

    def stop(self, timeout: float = 30) -> None:
        """Kill every process of every node (SIGKILL) and wait until they are gone and the
        head's port refuses connections (a driver then fails at once instead of retrying Ray's
        connection for minutes)."""
        nodes = range(len(self._groups))
        for pid in [pid for node in nodes for pid in self.pids(node)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (
            any(self.pids(node) for node in nodes) or listening(self.host, self.port)
        ):
            time.sleep(0.05)
        self._groups.clear()

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
