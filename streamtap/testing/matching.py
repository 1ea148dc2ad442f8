"""Which recorded interaction answers a live request, and why none did.

The default compares method, URL (query order ignored) and the JSON body as data
(key order ignored). Requests are compared in redacted form on both sides, so a
live request carrying the real key matches the recording that carries
``REDACTED``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from streamtap.testing.model import RecordedRequest

RequestMatcher = Callable[[RecordedRequest, RecordedRequest], bool]
"""``matcher(recorded, live) -> bool``; both requests are already redacted."""

_FIELDS = frozenset({"method", "url", "body"})


@dataclass(frozen=True, slots=True)
class MatchOn:
    """Configures the default matcher.

    ``ignore_keys`` are dotted paths into the JSON body (``"metadata.session_id"``);
    a path with no dot is removed at every depth (``"user"``). ``ignore_query``
    names query parameters left out of the URL comparison. ``also`` is an extra
    predicate that must hold too.
    """

    method: bool = True
    url: bool = True
    body: bool = True
    ignore_keys: tuple[str, ...] = ()
    ignore_query: tuple[str, ...] = ()
    also: RequestMatcher | None = None

    def matches(self, recorded: RecordedRequest, live: RecordedRequest) -> bool:
        """Whether ``live`` is answered by ``recorded``."""
        if self.method and recorded.method.upper() != live.method.upper():
            return False
        if self.url and self._url_key(recorded.url) != self._url_key(live.url):
            return False
        if self.body and self.canonical_body(recorded) != self.canonical_body(live):
            return False
        return self.also is None or self.also(recorded, live)

    def _url_key(self, url: str) -> tuple[str, str, int | None, str, list[tuple[str, str]]]:
        parsed = httpx2.URL(url)
        params = sorted(
            (name, value)
            for name, value in parsed.params.multi_items()
            if name not in self.ignore_query
        )
        return (parsed.scheme, parsed.host, parsed.port, parsed.path, params)

    def canonical_body(self, request: RecordedRequest) -> Any:
        """The body as compared: parsed JSON without ignored keys, else the raw bytes."""
        try:
            value = request.json()
        except ValueError:
            return request.body
        for path in self.ignore_keys:
            _drop_path(value, path.split("."), anywhere="." not in path)
        return value


def _drop_path(value: Any, parts: list[str], *, anywhere: bool) -> None:
    if isinstance(value, dict):
        if len(parts) == 1:
            value.pop(parts[0], None)
        elif parts[0] in value:
            _drop_path(value[parts[0]], parts[1:], anywhere=False)
        if anywhere:
            for item in value.values():
                _drop_path(item, parts, anywhere=True)
    elif isinstance(value, list) and anywhere:
        for item in value:
            _drop_path(item, parts, anywhere=True)


MatchOnArg = MatchOn | RequestMatcher | Sequence[str] | None
"""What ``use_cassette(match_on=...)`` accepts: a :class:`MatchOn`, a callable
``(recorded, live) -> bool`` replacing the default, field names out of
``"method"``, ``"url"``, ``"body"``, or ``None`` for all three."""


def resolve_matcher(match_on: MatchOnArg) -> tuple[RequestMatcher, MatchOn]:
    """The predicate to use, plus the :class:`MatchOn` that explains mismatches."""
    if match_on is None:
        default = MatchOn()
        return default.matches, default
    if isinstance(match_on, MatchOn):
        return match_on.matches, match_on
    if isinstance(match_on, str):
        raise TypeError(
            f"match_on={match_on!r}: pass a sequence of field names, e.g. ({match_on!r},)"
        )
    if callable(match_on):
        return match_on, MatchOn()
    fields = tuple(match_on)
    unknown = set(fields) - _FIELDS
    if unknown:
        raise ValueError(
            f"match_on: unknown field(s) {sorted(unknown)}; use any of {sorted(_FIELDS)}, "
            "a MatchOn(...) or a callable (recorded, live) -> bool"
        )
    options = MatchOn(method="method" in fields, url="url" in fields, body="body" in fields)
    return options.matches, options


def _describe(request: RecordedRequest, options: MatchOn) -> str:
    body = options.canonical_body(request)
    if isinstance(body, bytes):
        text = body.decode("utf-8", "replace")
    else:
        text = json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False)
    return f"{request.method} {request.url}\n{text}"


def closest(
    live: RecordedRequest, candidates: Sequence[RecordedRequest], options: MatchOn
) -> int | None:
    """Index of the recorded request most similar to ``live``."""
    if not candidates:
        return None
    target = _describe(live, options)
    scores = [
        difflib.SequenceMatcher(None, _describe(candidate, options), target).ratio()
        for candidate in candidates
    ]
    return max(range(len(candidates)), key=scores.__getitem__)


def explain_difference(recorded: RecordedRequest, live: RecordedRequest, options: MatchOn) -> str:
    """A unified diff (recorded -> live) of method, URL and canonical body."""
    diff = difflib.unified_diff(
        _describe(recorded, options).splitlines(),
        _describe(live, options).splitlines(),
        fromfile="recorded",
        tofile="live",
        lineterm="",
    )
    text = "\n".join(diff)
    return text or "(no difference in method, URL or body: a custom matcher rejected it)"
