"""Early pytest plugin: alias ``httpx`` to ``httpx2`` before anything imports httpx.

The openai 3.x and anthropic 2.x SDKs talk through ``httpx2``. respx patches
whatever module is called ``httpx``, and its own pytest plugin imports httpx at
start-up, so the alias (``streamtap.testing.install_httpx_alias()``) has to run
from a plugin that loads even earlier (``-p tests._httpx2_alias`` in ``addopts``).

It also blocks real network access: a test that forgets to mock must fail at
once with a clear error instead of hanging on a connect.
"""

from __future__ import annotations

import socket
from typing import Any

from streamtap.testing import install_httpx_alias

if not install_httpx_alias():  # pragma: no cover - only if httpx got imported before pytest
    raise RuntimeError("tests need `import httpx` to be httpx2; load -p tests._httpx2_alias first")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in ("localhost", "::1") or host.startswith("127.")
    return isinstance(address, (str, bytes))  # AF_UNIX


class NetworkBlockedError(RuntimeError):
    """Raised when a test tries to reach a non-loopback address."""


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkBlockedError(
            f"test tried to connect to {address!r}: tests never reach the internet; "
            "mock the request with respx or a cassette"
        )
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkBlockedError(
            f"test tried to connect to {address!r}: tests never reach the internet; "
            "mock the request with respx or a cassette"
        )
    return _real_connect_ex(self, address)


_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback((name,)):
        # A literal address is checked at connect time; a name never resolves.
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in str(name) else socket.AF_INET, str(name))
        except OSError:
            raise NetworkBlockedError(
                f"test tried to resolve {name!r}: tests never reach the internet; "
                "mock the request with respx or a cassette"
            ) from None
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo
socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
