"""start/status/stop: a server that outlives the process that started it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamtap import local
from streamtap._local_state import STATE_FILE
from streamtap.local import LocalServer, ServerAlreadyRunningError

from .test_serve import _assert_gone, _health_status


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.local_model
def test_start_status_stop_in_one_process(tmp_path: Path) -> None:
    server = local.start(state_dir=tmp_path)
    try:
        assert _health_status(server.port) == 200
        assert local.status(state_dir=tmp_path) == server
        recorded = json.loads((tmp_path / STATE_FILE).read_text())
        assert (recorded["pid"], recorded["port"]) == (server.pid, server.port)
        assert server.log_path == tmp_path / "server.log"
        with pytest.raises(ServerAlreadyRunningError, match=f"pid {server.pid}"):
            local.start(state_dir=tmp_path)
    finally:
        stopped = local.stop(state_dir=tmp_path)
    assert stopped == server
    _assert_gone(server)
    assert local.status(state_dir=tmp_path) is None
    assert not (tmp_path / STATE_FILE).exists()
    assert local.stop(state_dir=tmp_path) is None


def _cli(*args: str, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STREAMTAP_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "streamtap.cli", "local", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.local_model
def test_cli_started_server_outlives_the_cli_and_stops(tmp_path: Path) -> None:
    started = _cli("start", "--json", cache_dir=tmp_path)
    assert started.returncode == 0, started.stderr
    record = json.loads(started.stdout)
    try:
        assert record["running"] is True
        assert record["base_url"] == f"http://127.0.0.1:{record['port']}/v1"
        assert _health_status(record["port"]) == 200, "the server outlives the start command"

        status = _cli("status", cache_dir=tmp_path)
        assert status.returncode == 0
        assert f"pid {record['pid']}" in status.stdout
        assert record["base_url"] in status.stdout
    finally:
        stopped = _cli("stop", cache_dir=tmp_path)
    assert stopped.returncode == 0
    assert stopped.stdout.strip() == f"stopped local server (pid {record['pid']})"
    server = local.status(state_dir=tmp_path / "local")
    assert server is None
    gone = LocalServer(
        model="smollm2",
        alias=record["alias"],
        port=record["port"],
        pid=record["pid"],
        log_path=Path(record["log_path"]),
        model_path=Path(),
    )
    _assert_gone(gone)

    after = _cli("status", "--json", cache_dir=tmp_path)
    assert after.returncode == 1
    assert json.loads(after.stdout) == {"running": False}


def test_stale_state_file_is_reported_as_not_running_and_removed(tmp_path: Path) -> None:
    state = tmp_path / STATE_FILE
    state.write_text(
        json.dumps(
            {
                "model": "smollm2",
                "alias": "smollm2-135m",
                "port": 9,
                "pid": _dead_pid(),
                "log_path": str(tmp_path / "server.log"),
                "model_path": "/nowhere.gguf",
                "host": "127.0.0.1",
                "binary": "/nowhere/llama-server",
                "started_at": 0.0,
            }
        )
    )
    assert local.status(state_dir=tmp_path) is None
    assert not state.exists()
    assert local.stop(state_dir=tmp_path) is None


def test_live_pid_of_another_program_is_not_taken_for_the_server(tmp_path: Path) -> None:
    if not Path("/proc/self/exe").exists():
        pytest.skip("identity check by executable needs /proc")
    state = tmp_path / STATE_FILE
    state.write_text(
        json.dumps(
            {
                "model": "smollm2",
                "alias": "smollm2-135m",
                "port": 9,
                "pid": os.getpid(),  # alive, but it is Python, not llama-server
                "log_path": str(tmp_path / "server.log"),
                "model_path": "/nowhere.gguf",
                "host": "127.0.0.1",
                "binary": "/nowhere/llama-server",
                "started_at": 0.0,
            }
        )
    )
    assert local.stop(state_dir=tmp_path) is None, "stop must never signal an unrelated pid"
    assert not state.exists()


def test_corrupt_state_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    assert local.status(state_dir=tmp_path) is None
    assert not (tmp_path / STATE_FILE).exists()


def test_default_state_dir_follows_the_cache_dir_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMTAP_CACHE_DIR", str(tmp_path))
    assert local.default_state_dir() == tmp_path / "local"
    monkeypatch.delenv("STREAMTAP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert local.default_state_dir() == tmp_path / "xdg" / "streamtap" / "local"
