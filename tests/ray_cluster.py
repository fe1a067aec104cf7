"""A throwaway Ray cluster on loopback for the tests and the scale-out benchmark.

``ray start --head --block`` runs the head (no CPUs of its own, so no task runs there) and
``ray start --address HEAD --block`` each worker node with ``cpus_per_worker`` CPUs, all on
127.0.0.1 with a temporary directory of their own. Each ``ray start`` stays in the foreground
in a process group of its own; :meth:`RayCluster.stop` sends that group SIGTERM (``ray start
--block`` then stops the processes it started), waits, and removes the directory.

    cluster = RayCluster.start(workers=2)
    cluster.address            # "127.0.0.1:PORT", for RayExecutor(address=...) or --address
    cluster.stop()
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
from pathlib import Path

__all__ = ["RayCluster", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.is_file() else (shutil.which("ray") or "ray")


def environment() -> dict[str, str]:
    """The environment of the cluster's processes: no usage reports, quiet."""
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}


class RayCluster:
    """A running head and its worker nodes."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.processes: list[subprocess.Popen[bytes]] = []

    @classmethod
    def start(
        cls, workers: int = 2, cpus_per_worker: int = 1, timeout_s: float = 120
    ) -> RayCluster:
        """Start the head and ``workers`` worker nodes; wait until the head answers and every
        node has joined. Raises ``RuntimeError`` with the logs' end on failure."""
        root = Path(tempfile.mkdtemp(prefix="rl-ray-", dir="/tmp"))  # short: socket paths
        cluster = cls(root, free_port())
        try:
            cluster._spawn(
                "head", "--head", "--port", str(cluster.port), "--num-cpus", "0",
                "--include-dashboard", "false", "--temp-dir", str(root / "tmp"),
            )  # fmt: skip
            cluster._wait(lambda: cluster._answers(), timeout_s, "the head to answer")
            for i in range(workers):  # one after the other, each with its own sockets
                cluster._spawn(
                    f"worker{i}", "--address", cluster.address,
                    "--num-cpus", str(cpus_per_worker),
                    "--temp-dir", str(root / f"w{i}"),
                )  # fmt: skip
                cluster._wait(lambda n=i: cluster._joined() > n, timeout_s, f"worker node {i}")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 (closed by the process's end)
        command = [_ray_cli(), "start", "--block", "--node-ip-address", "127.0.0.1",
                   "--disable-usage-stats", *args]  # fmt: skip
        self.processes.append(
            subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment(),
                start_new_session=True,
            )
        )

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _joined(self) -> int:
        """Worker nodes that have joined: the ``ray start`` logs that say the runtime started."""
        return sum(
            "Ray runtime started" in (self.root / f"worker{i}.log").read_text(errors="replace")
            for i in range(len(self.processes) - 1)
            if (self.root / f"worker{i}.log").is_file()
        )

    def _wait(self, ready: object, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():  # type: ignore[operator]
            dead = [p for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"ray cluster: gave up waiting for {what}:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + log.read_text(errors="replace")[-2000:]
            for log in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM each ``ray start``'s process group, worker nodes first, then the head;
        SIGKILL what is left after a few seconds (the head's GCS may wait for nodes that are
        gone, and the cluster holds nothing worth keeping)."""
        for proc in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
