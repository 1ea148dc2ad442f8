"""Where ``streamtap local start`` left its server: the state file both sides agree on.

``streamtap.local`` writes the record when it starts a background llama.cpp
server; the ``llamacpp`` specs of ``streamtap.providers`` read it to find that
server without importing ``streamtap.local`` (which sits above them). Before a
recorded pid is trusted, the process behind it is checked to still be that
llama-server, because pids get reused.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CACHE_DIR_ENV", "STATE_FILE", "default_state_dir", "running_record", "state_path"]

STATE_FILE = "server.json"
CACHE_DIR_ENV = "STREAMTAP_CACHE_DIR"


def default_state_dir() -> Path:
    """``$STREAMTAP_CACHE_DIR/local``, else the platform's user cache dir + ``streamtap/local``."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser() / "local"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "streamtap" / "local"


def state_path(state_dir: Path | None = None) -> Path:
    return (state_dir if state_dir is not None else default_state_dir()) / STATE_FILE


def read_record(path: Path) -> dict[str, Any] | None:
    """The recorded server, or None; an unreadable record is removed."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not a record")
        int(record["pid"]), int(record["port"]), str(record["host"]), str(record["binary"])
        return record
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or someone else's reused pid
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed server whose parent is gone stays a zombie where PID 1 does not reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS) or already gone
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def is_recorded_server(record: dict[str, Any], verify: Callable[[int], bool] | None = None) -> bool:
    """Whether the record's pid is still that llama-server (``verify(port)`` off Linux)."""
    pid = int(record["pid"])
    if not pid_alive(pid):
        return False
    if Path("/proc/self/exe").exists():  # Linux: compare the executable itself
        try:
            running = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        except OSError:
            return False
        return os.path.realpath(running) == os.path.realpath(str(record["binary"]))
    return verify(int(record["port"])) if verify is not None else True


def running_record(state_dir: Path | None = None) -> dict[str, Any] | None:
    """The live background server's record, or None (a stale record is removed)."""
    path = state_path(state_dir)
    record = read_record(path)
    if record is None:
        return None
    if is_recorded_server(record):
        return record
    path.unlink(missing_ok=True)
    return None
