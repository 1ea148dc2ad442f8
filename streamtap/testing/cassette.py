"""``use_cassette``: replay recorded HTTP interactions, or record them, around a block of code.

Importing this module changes nothing in the process. A cassette, when it starts,
makes ``import httpx`` mean ``httpx2`` (``install_httpx_alias()``) and only then
imports respx, which patches whatever module is called ``httpx``.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, ParamSpec, TypeVar, cast, get_args

import httpx2

from streamtap.testing._alias import alias_problem, install_httpx_alias
from streamtap.testing._botocore import attach as attach_botocore
from streamtap.testing._botocore import detach as detach_botocore
from streamtap.testing._streams import RECORD_INTO, WIRE_HEADERS, ReplayStream, replay_headers
from streamtap.testing.errors import (
    CassetteMismatchError,
    CassetteNotFoundError,
    CassetteSetupError,
)
from streamtap.testing.fileformat import load_interactions, save_interactions
from streamtap.testing.matching import (
    MatchOn,
    MatchOnArg,
    RequestMatcher,
    closest,
    explain_difference,
    resolve_matcher,
)
from streamtap.testing.model import Interaction, RecordedRequest, RecordedResponse
from streamtap.testing.redaction import (
    RedactHook,
    apply_hook,
    redact_headers,
    redact_interaction,
    redact_request,
)

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]
"""pytest-recording's record modes. ``rewrite`` is accepted as a synonym of ``all``."""
RECORD_MODES: Final[tuple[str, ...]] = get_args(RecordMode)
Pace = Literal["instant", "recorded"] | float
"""``"instant"``, ``"recorded"`` (original timing) or a speed factor (2.0 = twice as fast)."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _speed(pace: Pace) -> float | None:
    if pace == "instant":
        return None
    if pace == "recorded":
        return 1.0
    if isinstance(pace, bool) or not isinstance(pace, int | float):
        raise ValueError(
            f"pace={pace!r}: use 'instant', 'recorded' or a positive speed factor such as 2.0"
        )
    if not math.isfinite(pace) or pace <= 0:
        raise ValueError(f"pace={pace!r}: a speed factor must be a positive finite number")
    return float(pace)


def _check_mode(record_mode: str) -> RecordMode:
    if record_mode not in RECORD_MODES:
        raise ValueError(f"record_mode={record_mode!r}: use one of {', '.join(RECORD_MODES)}")
    return cast(RecordMode, record_mode)


def _snapshot(request: httpx2.Request) -> RecordedRequest:
    """A live request in stored form: redacted at once, so secrets never sit in a cassette."""
    return redact_request(
        RecordedRequest(
            method=request.method,
            url=str(request.url),
            headers=[(k.lower(), v) for k, v in request.headers.multi_items()],
            body=request.content,
        )
    )


def _router_opener() -> Callable[[Callable[[httpx2.Request], Any]], Any]:
    """``_transport.open_router``, imported only now, after the alias: respx binds
    whatever ``httpx`` is when it is first imported."""
    install_httpx_alias()  # a no-op once done, or when it is too late (alias_problem says)
    try:
        from streamtap.testing._transport import open_router
    except ModuleNotFoundError as exc:
        if exc.name != "respx":
            raise
        raise CassetteSetupError(
            "streamtap cassettes need respx: pip install 'streamtap[testing]'"
        ) from exc
    return open_router


class Cassette:
    """One active cassette session: what was loaded, played and recorded."""

    def __init__(
        self,
        path: Path,
        *,
        record_mode: RecordMode,
        speed: float | None,
        matcher: RequestMatcher,
        match_options: MatchOn,
        redact: RedactHook | None,
    ) -> None:
        self.path = path
        self.record_mode: RecordMode = record_mode
        self._speed = speed
        self._matcher = matcher
        self._options = match_options
        self._redact = redact
        self._lock = threading.Lock()
        self._existed = path.exists()
        self._can_record = record_mode != "none" and not (record_mode == "once" and self._existed)
        self.interactions: list[Interaction] = []
        """Recorded interactions available for replay."""
        self.recorded: list[Interaction] = []
        """Interactions recorded during this session (redacted when written)."""
        self._played: list[bool] = []
        self._mismatches: list[CassetteMismatchError] = []
        self._router: Any = None  # respx.MockRouter, imported when the cassette starts

    @property
    def play_count(self) -> int:
        """How many recorded interactions have been replayed."""
        return sum(self._played)

    @property
    def all_played(self) -> bool:
        """Whether every recorded interaction has been replayed."""
        return all(self._played)

    @property
    def mismatches(self) -> list[CassetteMismatchError]:
        """Every unmatched request seen so far (each was raised where the request was made)."""
        return list(self._mismatches)

    # -- lifecycle ---------------------------------------------------------------

    def _start(self) -> None:
        open_router = _router_opener()
        problem = alias_problem()
        if problem is not None:
            raise CassetteSetupError(problem)
        if self.record_mode == "none" and not self._existed:
            raise CassetteNotFoundError(
                f"cassette {self.path} does not exist and record_mode is 'none' (replay only). "
                "Record it once against the real endpoint: pytest --record-mode=once, or "
                "use_cassette(..., record_mode='once')."
            )
        if self._existed and self.record_mode not in ("all", "rewrite"):
            self.interactions = load_interactions(self.path)
            self._played = [False] * len(self.interactions)
        self._router = open_router(self._on_request)
        attach_botocore(self)

    def _stop(self, exc: BaseException | None) -> None:
        detach_botocore(self)
        if self._router is not None:
            self._router.__exit__(None, None, None)
            self._router = None
        if self._should_save():
            kept = [] if self.record_mode in ("all", "rewrite") else self.interactions
            fresh = [apply_hook(redact_interaction(item), self._redact) for item in self.recorded]
            save_interactions(self.path, [*kept, *fresh])
        if exc is None and self._mismatches:
            raise self._mismatches[0]

    def _should_save(self) -> bool:
        if not self._can_record:
            return False
        if self.record_mode == "new_episodes":
            return bool(self.recorded) or not self._existed
        return True

    # -- requests ----------------------------------------------------------------

    def _live_request(self, request: httpx2.Request) -> RecordedRequest:
        live = _snapshot(request)
        if self._redact is None:
            return live
        probe = apply_hook(Interaction(live, RecordedResponse(status=0)), self._redact)
        return probe.request

    def _on_request(self, request: httpx2.Request) -> httpx2.Response | httpx2.Request:
        start = time.perf_counter()
        live = self._live_request(request)
        with self._lock:
            index = self._find(live)
            if index is not None:
                self._played[index] = True
                recorded = self.interactions[index].response
                return httpx2.Response(
                    recorded.status,
                    headers=replay_headers(recorded),
                    stream=ReplayStream(recorded, start=start, speed=self._speed),
                    request=request,
                )
            if self._can_record:
                request.extensions[RECORD_INTO] = self
                return request
            error = CassetteMismatchError(self._explain(live))
            self._mismatches.append(error)
        raise error

    def _find(self, live: RecordedRequest) -> int | None:
        for index, interaction in enumerate(self.interactions):
            if not self._played[index] and self._matcher(interaction.request, live):
                return index
        return None

    def _explain(self, live: RecordedRequest) -> str:
        lines = [
            f"streamtap cassette {self.path} (record_mode={self.record_mode!r}): "
            f"no recorded interaction matches {live.method} {live.url}"
        ]
        requests = [interaction.request for interaction in self.interactions]
        replayed = [i for i, request in enumerate(requests) if self._matcher(request, live)]
        if replayed:
            lines.append(
                f"It matches interaction #{replayed[0] + 1}, already replayed: each recorded "
                "interaction replays once, in recorded order; this request was made more "
                "often than when the cassette was recorded."
            )
        index = closest(live, requests, self._options)
        if index is None:
            lines.append("The cassette holds no interactions.")
        elif not replayed:
            lines.append(
                f"Closest recorded request: #{index + 1} of {len(requests)} "
                f"({'already replayed' if self._played[index] else 'not replayed yet'}):"
            )
            lines.append(explain_difference(requests[index], live, self._options))
        lines.append(
            "Re-record with record_mode='new_episodes' (pytest --record-mode=new_episodes), "
            "or relax matching with match_on=MatchOn(ignore_keys=(...)) or a custom matcher."
        )
        return "\n".join(lines)

    def begin_recording(
        self, request: httpx2.Request, response: httpx2.Response, start: float
    ) -> RecordedResponse:
        """Start an interaction for a request that went to the real endpoint."""
        recording = RecordedResponse(
            status=response.status_code,
            headers=redact_headers(
                [
                    (k.lower(), v)
                    for k, v in response.headers.multi_items()
                    if k.lower() not in WIRE_HEADERS
                ]
            ),
            headers_offset=time.perf_counter() - start,
            complete=False,
        )
        with self._lock:
            self.recorded.append(Interaction(_snapshot(request), recording))
        return recording


class CassetteContext:
    """What :func:`use_cassette` returns: a sync/async context manager and a decorator.

    Each ``with`` (or decorated call) opens a fresh :class:`Cassette` session.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        record_mode: RecordMode,
        pace: Pace,
        match_on: MatchOnArg,
        redact: RedactHook | None,
    ) -> None:
        self.path = Path(path)
        self.record_mode = _check_mode(record_mode)
        self.pace = pace
        self._speed = _speed(pace)
        self._matcher, self._options = resolve_matcher(match_on)
        if redact is not None and not callable(redact):
            raise TypeError("redact must be a callable taking an Interaction")
        self._redact = redact
        self._active: list[Cassette] = []

    def _open(self) -> Cassette:
        cassette = Cassette(
            self.path,
            record_mode=self.record_mode,
            speed=self._speed,
            matcher=self._matcher,
            match_options=self._options,
            redact=self._redact,
        )
        cassette._start()
        self._active.append(cassette)
        return cassette

    def _close(self, exc: BaseException | None) -> None:
        self._active.pop()._stop(exc)

    def __enter__(self) -> Cassette:
        return self._open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close(exc)

    async def __aenter__(self) -> Cassette:
        return self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close(exc)

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        if inspect.iscoroutinefunction(func):
            coroutine_function = cast(Callable[_P, Awaitable[Any]], func)

            @functools.wraps(func)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                async with self:
                    return await coroutine_function(*args, **kwargs)

            return cast(Callable[_P, _R], async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with self:
                return func(*args, **kwargs)

        return wrapper


def use_cassette(
    path: str | os.PathLike[str],
    *,
    record_mode: RecordMode = "none",
    pace: Pace = "instant",
    match_on: MatchOnArg = None,
    redact: RedactHook | None = None,
) -> CassetteContext:
    """Replay (or record) every httpx2 request made inside the block from/to ``path``.

    ``record_mode`` follows pytest-recording: ``"none"`` replays only and fails on a
    missing cassette or an unmatched request; ``"once"`` records when the file does
    not exist yet; ``"new_episodes"`` replays matches and records the rest;
    ``"all"``/``"rewrite"`` records everything afresh. Secrets are redacted before the
    file is written; ``redact`` is an extra hook run after the default redaction.
    """
    return CassetteContext(
        path, record_mode=record_mode, pace=pace, match_on=match_on, redact=redact
    )
