"""Several real ``streamtap serve`` processes on one Postgres and one Redis, on loopback.

Each process is ``python -m streamtap.cli serve tests.server._cluster_graphs:graphs`` with
``--database-url`` / ``--redis-url``, short leases so a killed process's runs are taken
over within seconds, and its own free port. ``kill`` sends a signal (``SIGKILL``: the
process dies mid-run, as on an OOM kill or a lost machine); ``restart`` brings it back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:
    """In the child: SIGKILL it when the test process dies (a killed pytest must not
    leave servers behind, holding ports and database connections)."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(
        self,
        database_url: str,
        redis_url: str,
        workdir: Path,
        *,
        processes: int = 3,
        lease: float = 3.0,
        heartbeat: float = 1.0,
        jobs: int = 4,
        retries: int = 1,
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.workdir = workdir
        self.trace = workdir / "trace.txt"
        self.args = [
            *("--lease", str(lease), "--heartbeat", str(heartbeat)),
            *("--jobs", str(jobs), "--retries", str(retries), "--disconnect-grace", "1"),
        ]
        self.ports = [free_port() for _ in range(processes)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * processes

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self, i: int) -> None:
        env = {**os.environ, "STREAMTAP_TEST_TRACE": str(self.trace), "PYTHONPATH": str(ROOT)}
        log = (self.workdir / f"server{i}.log").open("ab")
        self.procs[i] = subprocess.Popen(
            [
                sys.executable,
                *("-m", "streamtap.cli", "serve", "tests.server._cluster_graphs:graphs"),
                *("--port", str(self.ports[i]), "--no-chat-page"),
                *("--database-url", self.database_url, "--redis-url", self.redis_url),
                *self.args,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def wait_ready(self, i: int, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs[i]
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"server {i} exited: {self.log(i)}")
            try:
                if httpx.get(f"{self.urls[i]}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {i} not ready in {timeout:.0f}s: {self.log(i)}")
            time.sleep(0.1)

    def __enter__(self) -> Cluster:
        try:
            for i in range(len(self.procs)):
                self.start(i)
            for i in range(len(self.procs)):
                self.wait_ready(i)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self, i: int) -> str:
        path = self.workdir / f"server{i}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def pid(self, i: int) -> int:
        proc = self.procs[i]
        assert proc is not None
        return proc.pid

    def index_of(self, pid: int) -> int:
        return next(i for i, p in enumerate(self.procs) if p is not None and p.pid == pid)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def restart(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            self.kill(i, signal.SIGTERM)
        self.start(i)
        self.wait_ready(i)

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)

    def traces(self) -> list[list[str]]:
        if not self.trace.exists():
            return []
        return [line.split() for line in self.trace.read_text().splitlines() if line]
