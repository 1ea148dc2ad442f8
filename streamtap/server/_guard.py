"""Who may talk to the server, checked before any route (and so any run) is reached.

A server with no API token trusts whoever can reach it, so it must not be reachable
from a web page the user happens to open:

- **Host**: a page that rebinds its own DNS name to 127.0.0.1 sends its own name in
  ``Host``; without a token only loopback names and addresses (and ``allowed_hosts``)
  are served (421).
- **Origin**: a browser names the page behind every cross-site fetch and WebSocket; without
  a token only the server's own origin and ``cors_origins`` are served (403).
- **Content-Type**: a POST with a body must say ``application/json`` (415), with or without
  a token: a cross-site ``text/plain`` form post needs no CORS preflight, a JSON one does.

Clients that are not browsers (the SDKs, curl) send no ``Origin`` and pass.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RequestGuard"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _host_name(host: str) -> str:
    """``Host`` without its port, brackets and case (``[::1]:2024`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@functools.lru_cache(maxsize=1024)  # asked for every request, of a handful of hosts
def is_loopback(host: str) -> bool:
    name = _host_name(host)
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestGuard:
    """ASGI middleware enforcing the rules above on HTTP requests and WebSockets."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        open_server: bool,
        allowed_hosts: Sequence[str] = (),
        cors_origins: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.open_server = open_server  # no API token: Host and Origin are checked
        self.allowed_hosts = frozenset(_host_name(h) for h in allowed_hosts)
        self.cors_origins = frozenset(o.rstrip("/").lower() for o in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        if scope["type"] == "websocket":  # refused before the handshake: an HTTP 403
            await send({"type": "websocket.close", "code": 4000 + status, "reason": detail[:120]})
            return
        await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.open_server and not (is_loopback(host) or _host_name(host) in self.allowed_hosts):
            return 421, (
                f"Host {host!r} is not served: a server without an API token answers only "
                "loopback names (set STREAMTAP_API_TOKEN, or allow the host)"
            )
        origin = headers.get("origin")
        if self.open_server and origin is not None and not self._origin_ok(origin, host):
            return 403, (
                f"Origin {origin!r} may not use this server: a server without an API token "
                "serves only its own pages and --cors-origin origins"
            )
        if (
            scope["type"] == "http"
            and scope["method"] in _BODY_METHODS
            and _has_body(headers)
            and not _is_json(headers.get("content-type", ""))
        ):
            return 415, "Send the request body as JSON with 'Content-Type: application/json'"
        return None

    def _origin_ok(self, origin: str, host: str) -> bool:
        if origin.rstrip("/").lower() in self.cors_origins:
            return True
        parts = urlsplit(origin)
        return bool(parts.netloc) and parts.netloc.lower() == host.strip().lower()


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in headers
