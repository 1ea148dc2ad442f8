"""A server that outlives the command that started it (``streamtap local start|status|stop``).

One server per state directory. Its pid, port and paths live in a JSON state file so a
later process can find it; before trusting a recorded pid, the process behind it is
checked to still be that llama-server, because pids get reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamtap._local_state import is_recorded_server, pid_alive, read_record
from streamtap._local_state import state_path as _state_path
from streamtap.local._binary import server_binary
from streamtap.local._errors import ServerAlreadyRunningError
from streamtap.local._process import LocalServer, health_ok, launch, terminate
from streamtap.local._serve import (
    DEFAULT_CONTEXT_SIZE,
    DEFAULT_MODEL,
    DEFAULT_READY_TIMEOUT,
    DEFAULT_THREADS,
)

LOG_FILE = "server.log"

# Servers this process started: stopping them must also reap them (no zombie).
_STARTED_HERE: dict[int, subprocess.Popen[bytes]] = {}


def _write_state(path: Path, server: LocalServer, binary: Path) -> None:
    record: dict[str, Any] = {
        "model": server.model,
        "alias": server.alias,
        "port": server.port,
        "pid": server.pid,
        "log_path": str(server.log_path),
        "model_path": str(server.model_path),
        "host": server.host,
        "binary": str(binary.resolve()),  # /proc/PID/exe shows the resolved path
        "started_at": time.time(),
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def _read_state(path: Path) -> tuple[LocalServer, str] | None:
    record = read_record(path)
    if record is None:
        return None
    try:
        server = LocalServer(
            model=str(record["model"]),
            alias=str(record["alias"]),
            port=int(record["port"]),
            pid=int(record["pid"]),
            log_path=Path(record["log_path"]),
            model_path=Path(record["model_path"]),
            host=str(record["host"]),
        )
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)  # unreadable: treat as no server recorded
        return None
    return server, str(record["binary"])


def _is_our_server(server: LocalServer, binary: str) -> bool:
    process = _STARTED_HERE.get(server.pid)
    if process is not None:
        return process.poll() is None
    return is_recorded_server({"pid": server.pid, "port": server.port, "binary": binary}, health_ok)


def status(*, state_dir: Path | None = None) -> LocalServer | None:
    """The background server recorded in ``state_dir``, or None (a stale record is removed)."""
    path = _state_path(state_dir)
    found = _read_state(path)
    if found is None:
        return None
    server, binary = found
    if _is_our_server(server, binary):
        return server
    path.unlink(missing_ok=True)
    _STARTED_HERE.pop(server.pid, None)
    return None


def start(
    model: str = DEFAULT_MODEL,
    *,
    port: int | None = None,
    state_dir: Path | None = None,
    threads: int = DEFAULT_THREADS,
    context_size: int = DEFAULT_CONTEXT_SIZE,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    extra_args: Sequence[str] = (),
) -> LocalServer:
    """Start a server that keeps running after this process exits; stop it with ``stop()``."""
    running = status(state_dir=state_dir)
    if running is not None:
        raise ServerAlreadyRunningError(
            f"a local server is already running (pid {running.pid}, {running.base_url}); "
            "stop it first: streamtap local stop"
        )
    path = _state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = server_binary()
    process, server = launch(
        model,
        port=port,
        log_path=path.parent / LOG_FILE,
        threads=threads,
        context_size=context_size,
        ready_timeout=ready_timeout,
        extra_args=extra_args,
    )
    _STARTED_HERE[server.pid] = process
    try:
        _write_state(path, server, binary)
    except BaseException:
        terminate(_STARTED_HERE.pop(server.pid))
        raise
    return server


def _terminate_foreign(pid: int, grace: float) -> None:
    """Stop a server another process started: it is not our child, so poll instead of wait."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sys.platform == "win32":
                os.kill(pid, signum)
            else:
                os.killpg(pid, signum)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def stop(*, state_dir: Path | None = None, grace: float = 5.0) -> LocalServer | None:
    """Stop the background server; returns what was stopped, or None if none was running."""
    server = status(state_dir=state_dir)
    if server is None:
        return None
    process = _STARTED_HERE.pop(server.pid, None)
    if process is not None:
        terminate(process, grace)
    else:
        _terminate_foreign(server.pid, grace)
    _state_path(state_dir).unlink(missing_ok=True)
    return server
