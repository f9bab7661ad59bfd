"""A real Ray cluster on this machine for tests: a head and worker nodes,
each a `ray start --block` process in its own session and temp dir.

Every port Ray would otherwise take by default (and collide on, with other
test runs on the same machine) is picked free at start. Stopping a node
signals its process group by id, then kills what is left of it: never
`ray stop`, which stops every Ray process on the machine. Ray resolves the
loopback address to the machine's own (it refuses multi-node clusters on
loopback), so the nodes listen there; the ports are still private.

Temp dirs are short paths under /tmp: Ray puts Unix sockets in them, and a
socket path may not exceed 107 bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
START_SECONDS = 120.0
"""A node's start-up on a loaded 2-core machine (typically 5–20 s)."""
OBJECT_STORE_BYTES = 100_000_000
"""Small: the stores of a test are a few MB, and /dev/shm is shared."""
HERMETIC_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
"""For the nodes and for drivers that join them. Ray (2.5x) otherwise turns
token authentication on by itself: a local `ray.init()` writes a token to
~/.ray/auth_token, after which a head started here expects it and a joining
node does not send it (it cannot join). Explicitly disabled, nothing is
read from or written to the home directory."""


def use_hermetic_env() -> None:
    """`HERMETIC_ENV` in this process (and the drivers it starts)."""
    os.environ.update(HERMETIC_ENV)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in out}
        out |= frontier
    return out


@dataclass
class Node:
    name: str
    temp_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path
    head: bool

    def worker_pids(self) -> dict[int, str]:
        """Ray worker processes of this node: pid -> process title
        (`ray::IDLE`, or `ray::<function>` while running a task)."""
        out: dict[int, str] = {}
        for pid in _children(self.proc.pid):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if title.startswith("ray::") and "Agent" not in title:
                out[pid] = title
        return out

    def stop(self, *, hard: bool = False) -> None:
        """Stop the node: SIGTERM to its `ray start` (a clean shutdown), or
        with `hard` SIGKILL to its whole process group (the node vanishes)."""
        if self.proc.poll() is None:
            if hard:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the session
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


@dataclass
class LocalCluster:
    """`LocalCluster().start(); cluster.add_node(); ...; cluster.shutdown()`."""

    cpus_per_node: int = 1
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rt", dir="/tmp")))
    nodes: list[Node] = field(default_factory=list)
    address: str = ""
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Node:
        temp_dir = self.root / name
        log = self.root / f"{name}.log"
        agent, grpc, metrics, runtime_env, node_manager, object_manager = free_ports(6)
        cmd = [
            RAY,
            "start",
            "--block",
            "--num-cpus",
            str(self.cpus_per_node),
            "--temp-dir",
            str(temp_dir),
            "--object-store-memory",
            str(OBJECT_STORE_BYTES),
            "--disable-usage-stats",
            "--dashboard-agent-listen-port",
            str(agent),
            "--dashboard-agent-grpc-port",
            str(grpc),
            "--metrics-export-port",
            str(metrics),
            "--runtime-env-agent-port",
            str(runtime_env),
            "--node-manager-port",
            str(node_manager),
            "--object-manager-port",
            str(object_manager),
            *args,
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped by id
                env={**self.env, **(env or {}), **HERMETIC_ENV},
            )
        node = Node(name, temp_dir, proc, log, head=not self.nodes)
        self.nodes.append(node)
        deadline = time.monotonic() + START_SECONDS
        while b"Ray runtime started" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"ray node {name} did not start:\n{text}")
            time.sleep(0.2)
        return node

    def start(self) -> LocalCluster:
        (port,) = free_ports(1)
        self._start(
            "head",
            [
                "--head",
                "--node-ip-address",
                "127.0.0.1",
                "--port",
                str(port),
                "--include-dashboard=false",
            ],
        )
        self.address = f"{self._ip()}:{port}"
        return self

    def _ip(self) -> str:
        """The address Ray gave the head (it does not keep 127.0.0.1)."""
        text = self.nodes[0].log.read_text(errors="replace")
        for line in text.splitlines():
            if "Local node IP:" in line:
                return line.rsplit(":", 1)[1].strip()
        return "127.0.0.1"

    def add_node(self, env: dict[str, str] | None = None) -> Node:
        """A worker node joining the head (`env`: extra variables for it)."""
        return self._start(f"n{len(self.nodes)}", ["--address", self.address], env)

    def wait_for_nodes(self, n: int, seconds: float = 60.0) -> None:
        """Until the head counts `n` live nodes (a joining node registers
        shortly after `ray start` returns)."""
        code = (
            "import ray, sys; ray.init(address=sys.argv[1], logging_level='error'); "
            "print(sum(1 for x in ray.nodes() if x['Alive']))"
        )
        deadline = time.monotonic() + seconds
        while True:
            got = subprocess.run(
                [sys.executable, "-c", code, self.address],
                capture_output=True,
                text=True,
                timeout=seconds,
                env={**self.env, **HERMETIC_ENV},
            )
            if got.returncode == 0 and int(got.stdout.strip().splitlines()[-1]) >= n:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster has not {n} live nodes: {got.stdout}{got.stderr}")
            time.sleep(1)

    def shutdown(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        self.nodes.clear()
        shutil.rmtree(self.root, ignore_errors=True)
