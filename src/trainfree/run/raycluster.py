"""A Ray cluster of several nodes on this machine's loopback interface (tests, benchmarks, trials).

Every node is started with ``ray start`` -- a head, then workers joining it with
``--address`` -- exactly as on a real cluster, but with every node's address on the loopback
interface, so no traffic ever leaves the machine. The address is ``127.0.0.2``, not
``127.0.0.1``: Ray 2.x rewrites a literal ``127.0.0.1``/``localhost`` node or cluster address
into the machine's network address (``resolve_ip_for_localhost``), and the switch that stops it
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) also forbids a second node. The cluster uses Ray's
token authentication (``RAY_AUTH_MODE=token``) with a fresh token written under ``root``.

Each ``ray start`` runs in a process group of its own, which all of that node's daemons
inherit; :meth:`LoopbackCluster.stop` kills exactly those groups (``ray stop`` would stop every
Ray on the machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from trainfree.errors import TrainfreeError

LOOPBACK = "127.0.0.2"
OBJECT_STORE_BYTES = 100 * 2**20  # Ray's smallest object store is 75 MiB


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on at ``host`` now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


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
        if shutil.which("ray") is None:
            raise TrainfreeError("the `ray` command is not installed: pip install 'trainfree[ray]'")
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
                ["ray", "start", *role, *common],
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
        """The live processes of ``node`` (0 is the head), optionally only those named ``name``."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != self._groups[node]:
                    continue
                comm = (entry / "comm").read_text().strip()
            except (OSError, ProcessLookupError):
                continue
            if name is None or comm == name:
                found.append(int(entry.name))
        return found

    def stop(self) -> None:
        """Kill every process of every node (SIGKILL to each node's process group)."""
        for group in reversed(self._groups):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self._groups.clear()

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
