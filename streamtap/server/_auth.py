"""Custom auth as LangGraph's server does it: a ``langgraph_sdk.Auth`` object.

Users already write these for ``langgraph dev`` / the Platform (``@auth.authenticate``,
``@auth.on.threads.create``...), so the same object is accepted unchanged and means the
same thing: ``authenticate`` turns a request into a user (or raises
``Auth.exceptions.HTTPException``); the most specific ``@auth.on`` handler for a
(resource, action) may refuse (``False``, an exception, a failed ``assert``), edit the
value it is given (stamping ``metadata`` or rewriting a store ``namespace``), or return
a filter that every read of that resource must then match. Filters are LangGraph's:
``{"key": value}``, ``{"key": {"$eq": v}}``, ``{"key": {"$contains": v}}``, ``$or`` /
``$and`` lists, at most two levels deep.

Nothing here imports ``langgraph_sdk`` at module level: a server without custom auth
does not need it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Scope

__all__ = [
    "AUTH_SCOPE_KEY",
    "AuthGate",
    "AuthMiddleware",
    "AuthRefused",
    "Identity",
    "filter_matches",
]

#: where the authenticated identity rides on the ASGI scope from the middleware to a route
AUTH_SCOPE_KEY = "streamtap.auth"

Filters = dict[str, Any]

_PARAMS = frozenset(
    {
        "request",
        "body",
        "user",
        "path",
        "method",
        "scopes",
        "path_params",
        "query_params",
        "headers",
        "authorization",
        "scope",
    }
)


class AuthRefused(Exception):
    """A request the auth object turned away: its status (401, 403, or what the
    handler's ``HTTPException`` said), detail and headers."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.body = {"detail": detail}


class Identity:
    """The authenticated user as LangGraph hands it on: attribute access
    (``user.identity``) and dict access (``user["role"]``) over what ``authenticate``
    returned, ``permissions`` beside it. It implements ``langgraph_sdk``'s ``BaseUser``,
    so ``runtime.server_info.user`` and ``config["configurable"]["langgraph_auth_user"]``
    read it in a node, whatever the engine."""

    __slots__ = ("_data", "permissions")

    def __init__(self, data: Mapping[str, Any], permissions: Sequence[str]) -> None:
        self._data = dict(data)
        self.permissions: tuple[str, ...] = tuple(permissions)

    @property
    def identity(self) -> str:
        return str(self._data["identity"])

    @property
    def display_name(self) -> str:
        return str(self._data.get("display_name") or self.identity)

    @property
    def is_authenticated(self) -> bool:
        return bool(self._data.get("is_authenticated", True))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def model_dump(self) -> dict[str, Any]:
        return {**self._data, "permissions": list(self.permissions)}

    dict = model_dump  # the name LangGraph's user proxies also answer to

    def __repr__(self) -> str:  # the identity only: user records may hold tokens
        return f"Identity(identity={self.identity!r})"


def _identity(result: Any) -> Identity:
    """``authenticate``'s answer in any form LangGraph accepts: a string, a dict with
    ``identity``, an object with ``identity``, or ``(permissions, user)``."""
    permissions: Sequence[str] = ()
    if isinstance(result, tuple):
        if len(result) != 2:
            raise TypeError(f"authenticate returned a {len(result)}-tuple, not (permissions, user)")
        permissions, result = result
    if isinstance(result, str):
        return Identity({"identity": result}, permissions)
    if isinstance(result, Mapping) and "identity" in result:
        return Identity(result, result.get("permissions", permissions))
    if hasattr(result, "identity"):
        data = {
            key: getattr(result, key)
            for key in ("identity", "display_name", "is_authenticated")
            if hasattr(result, key)
        }
        return Identity(data, getattr(result, "permissions", permissions) or permissions)
    raise TypeError(
        "authenticate must return a user identity: a string, a dict with 'identity', an "
        f"object with an .identity attribute, or (permissions, user); got {type(result).__name__}"
    )


def filter_matches(metadata: Mapping[str, Any], filters: Filters | None, depth: int = 0) -> bool:
    """Whether a resource's metadata passes an auth handler's filter (LangGraph's rules)."""
    if depth > 2:
        raise AuthRefused(500, "An auth filter nests operators more than two levels deep")
    if not filters:
        return True
    for op in ("$or", "$and"):
        if op in filters:
            groups = filters[op]
            if not isinstance(groups, list) or len(groups) < 2:
                raise AuthRefused(500, f"An auth filter's {op} must list at least two filters")
            hits = [filter_matches(metadata, group, depth + 1) for group in groups]
            if not (any(hits) if op == "$or" else all(hits)):
                return False
    return all(
        key in metadata and _value_matches(metadata[key], want)
        for key, want in filters.items()
        if key not in ("$or", "$and")
    )


def _value_matches(have: Any, want: Any) -> bool:
    if isinstance(want, dict) and len(want) == 1:
        op, operand = next(iter(want.items()))
        if op == "$eq":
            return bool(have == operand)
        if op == "$contains":  # Postgres' containment: every wanted element is there
            wanted = operand if isinstance(operand, list) else [operand]
            return isinstance(have, list) and all(x in have for x in wanted)
    return bool(have == want)


class AuthGate:
    """One ``langgraph_sdk.Auth`` applied to the server: who is asking, and may they."""

    def __init__(self, auth: Any) -> None:
        from langgraph_sdk import Auth

        if not isinstance(auth, Auth):
            raise TypeError(f"auth must be a langgraph_sdk.Auth object, not {type(auth).__name__}")
        fn = auth._authenticate_handler
        if fn is None:
            raise ValueError(
                "The Auth object has no @auth.authenticate handler: without one every request "
                "would be anonymous. Add one (it may return a fixed identity for a demo)."
            )
        params = inspect.signature(fn).parameters
        unknown = [
            n
            for n, p in params.items()
            if n not in _PARAMS and p.default is inspect.Parameter.empty
        ]
        if unknown:
            raise ValueError(
                f"@auth.authenticate takes {unknown}, which LangGraph's server does not supply; "
                f"it may take: {', '.join(sorted(_PARAMS))}"
            )
        self.auth = auth
        self._fn: Callable[..., Any] = fn
        self._params = {n for n in params if n in _PARAMS}
        self._http_exception: type[Exception] = Auth.exceptions.HTTPException

    # ------------------------------------------------------------------ authentication

    async def authenticate(self, scope: Scope, *, authorization: str | None = None) -> Identity:
        """The identity of the request (or socket) ``scope`` describes; ``authorization``
        stands in for the header when a browser socket sent it in its first frame."""
        raw = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if authorization is not None:
            raw["authorization"] = authorization
        args: dict[str, Any] = {}
        for name in self._params:
            if name == "request":
                if scope["type"] != "http":
                    raise AuthRefused(
                        403, "@auth.authenticate takes `request`, which a WebSocket has not"
                    )
                args[name] = Request(scope)
            elif name == "headers":
                args[name] = {k.encode(): v.encode() for k, v in raw.items()}
            elif name == "authorization":
                args[name] = raw.get("authorization")
            elif name == "path":
                args[name] = scope["path"]
            elif name == "method":
                args[name] = scope.get("method", "WEBSOCKET")
            elif name == "query_params":
                args[name] = QueryParams(scope.get("query_string", b""))
            elif name == "path_params":
                args[name] = scope.get("path_params", {})
            elif name == "scopes":
                args[name] = []
            elif name == "scope":
                args[name] = scope
            else:  # user, body: LangGraph's server passes None before authentication
                args[name] = None
        try:
            result = self._fn(**args)
            if inspect.isawaitable(result):
                result = await result
        except self._http_exception as exc:
            status = getattr(exc, "status_code", 401)
            raise AuthRefused(
                status if status in (401, 403) else 401,
                str(getattr(exc, "detail", "") or "Unauthorized"),
                getattr(exc, "headers", None),
            ) from None
        except AssertionError as exc:
            raise AuthRefused(403, str(exc) or "Forbidden") from None
        return _identity(result)

    # ------------------------------------------------------------------ authorization

    def _handler(self, resource: str, action: str) -> Callable[..., Awaitable[Any]] | None:
        """The most specific handler, as LangGraph picks it: (resource, action), then
        (resource, any), then (any, action), then the global one; the last registered wins."""
        handlers: dict[tuple[str, str], list[Any]] = self.auth._handlers
        for key in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
            if key in handlers:
                return handlers[key][-1]  # type: ignore[no-any-return]
        found: list[Any] = self.auth._global_handlers
        return found[-1] if found else None

    async def authorize(
        self, who: Identity, resource: str, action: str, value: dict[str, Any]
    ) -> Filters | None:
        """Run the handler for (resource, action) on ``value`` (which it may edit);
        ``None`` allows everything, a dict is the filter reads must match."""
        from langgraph_sdk.auth.types import AuthContext

        handler = self._handler(resource, action)
        if handler is None:
            return None
        ctx = AuthContext(
            permissions=who.permissions,
            user=who,
            resource=resource,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
        )
        try:
            result = await handler(ctx=ctx, value=value)
        except self._http_exception as exc:
            raise AuthRefused(
                getattr(exc, "status_code", 403),
                str(getattr(exc, "detail", "") or "Forbidden"),
                getattr(exc, "headers", None),
            ) from None
        except AssertionError as exc:
            raise AuthRefused(403, str(exc) or "Forbidden") from None
        if result is None or result is True:
            return None
        if result is False:
            raise AuthRefused(403, "Forbidden")
        if not isinstance(result, dict):
            raise AuthRefused(
                500,
                f"The auth handler for {resource}:{action} returned {type(result).__name__}; "
                "it must return None, a bool or a filter dict",
            )
        return result


class AuthMiddleware:
    """Authenticates every HTTP request before a route sees it (the chat page and its
    assets aside, as with the token), and leaves the identity on the scope for the
    routes' authorization checks. WebSockets authenticate in their handler, once the
    first frame (which may carry the browser's ``authorization``) has arrived."""

    def __init__(self, app: Any, gate: AuthGate, public_paths: Sequence[str]) -> None:
        self.app = app
        self.gate = gate
        self.public_paths = tuple(public_paths)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or path in self.public_paths
            or path.startswith("/static/")
        ):
            await self.app(scope, receive, send)
            return
        try:
            scope[AUTH_SCOPE_KEY] = await self.gate.authenticate(scope)
        except AuthRefused as refused:
            headers = {"WWW-Authenticate": "Bearer", **refused.headers}
            response = JSONResponse({"detail": refused.detail}, refused.status, headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
