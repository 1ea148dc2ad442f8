"""How the server's exceptions become responses (Starlette's ``exception_handlers``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from streamtap.graph.checkpoint.serde import UnsafeCheckpointError
from streamtap.server._auth import AuthRefused
from streamtap.server._http import ApiError, json_response

__all__ = ["error_handlers"]

log = logging.getLogger("streamtap.server")

Handler = Callable[[Request, Exception], Awaitable[Response]]


def error_handlers(unavailable_errors: tuple[type[BaseException], ...]) -> dict[object, Handler]:
    """The app's handlers; ``unavailable_errors`` (the backend's: a part it needs is not
    answering) answer 503."""
    handlers: dict[object, Handler] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        UnsafeCheckpointError: _unsafe_checkpoint,
        AuthRefused: _auth_refused,
    }
    handlers.update(dict.fromkeys(unavailable_errors, _unavailable))
    return handlers


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body, exc.status)


async def _auth_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthRefused)
    return json_response({"detail": exc.detail}, exc.status, exc.headers or None)


async def _unsafe_checkpoint(request: Request, exc: Exception) -> Response:
    # a store that names code to run is a server-side fault the client can't fix;
    # the message says which type was refused and how an operator allows it
    return json_response({"detail": f"The thread's stored state was refused: {exc}"}, 500)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"detail": exc.detail}, exc.status_code, exc.headers)


async def _unavailable(request: Request, exc: Exception) -> Response:
    """A part the server needs (Postgres, Redis) did not answer: 503, retry later. The
    error's text is left out: a driver's message may name the database's address."""
    log.warning(
        "%s %s: 503, backend unavailable (%s)", request.method, request.url.path, type(exc).__name__
    )
    module = type(exc).__module__
    part = "database" if module.startswith("psycopg") else "event store (Redis)"
    return json_response(
        {"detail": f"The server's {part} is not answering; retry shortly."},
        503,
        headers={"Retry-After": "1"},
    )
