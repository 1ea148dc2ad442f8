"""Custom token events (``dispatch_custom_event("custom_token", ...)``) into ``messages`` mode.

Code that already reports tokens as custom events (the TypeScript
``dispatchCustomEvent("custom_token", {content, id})`` pattern) opts in by
adding :class:`TokenEvents` to the run's callbacks. Each matching event is
replayed as a token of a chat-model run opened on the dispatching run's
callback manager, so every ``messages``-mode handler (streamtap's and
LangGraph's) and ``astream_events`` see an ordinary model stream; nothing
listens to custom events specially.

Why the ``on_*`` hooks are properties: a sync handler cannot await the async
callback manager, and an async one is driven through a fresh event loop per
event on the sync path (and has its errors swallowed there). Choosing the
bound method per call — the coroutine one when an event loop runs in this
thread, i.e. when ``adispatch_custom_event`` is awaiting us — gives each path
its native manager with no thread hop per token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from uuid import UUID

from langchain_core.callbacks import (
    BaseCallbackHandler,
)
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables.config import ensure_config
from pydantic import ValidationError

from streamtap._compat import running_loop
from streamtap.middleware._chat_run import ChatRun, ChatRunSpec, Manager

__all__ = ["TokenEvents"]

#: Payload keys :class:`TokenEvents` reads (``content`` is required).
PAYLOAD_KEYS: Final = ("content", "id", "usage_metadata", "response_metadata", "chunk_position")

_Key = tuple[UUID, str | None]


def _loop_running() -> bool:
    return running_loop() is not None


def _dual(sync: str, coro: str) -> property:
    """An ``on_*`` hook resolving to ``sync`` or ``coro`` depending on who calls."""

    def get(self: TokenEvents) -> Callable[..., Any]:
        return getattr(self, coro if _loop_running() else sync)  # type: ignore[no-any-return]

    return property(get)


def parse_payload(name: str, data: Any) -> AIMessageChunk:
    """The chunk a custom token event stands for; ``ValueError`` naming the event if malformed."""
    if isinstance(data, AIMessageChunk):
        return data.model_copy()
    if not isinstance(data, Mapping):
        raise ValueError(
            f"custom event {name!r}: the payload must be a dict with a 'content' key "
            f"(optional: {', '.join(PAYLOAD_KEYS[1:])}), got {type(data).__name__}"
        )
    if "content" not in data:
        raise ValueError(
            f"custom event {name!r}: the payload has no 'content' key (got keys "
            f"{sorted(map(str, data))}); send {{'content': <token>, 'id': <message id>}}"
        )
    content = data["content"]
    if not isinstance(content, str | list):
        raise ValueError(
            f"custom event {name!r}: 'content' must be a str or a list of content blocks, "
            f"got {type(content).__name__}"
        )
    message_id = data.get("id")
    if message_id is not None and not isinstance(message_id, str):
        raise ValueError(f"custom event {name!r}: 'id' must be a str, got {message_id!r}")
    position = data.get("chunk_position")
    if position not in (None, "last"):
        raise ValueError(
            f"custom event {name!r}: 'chunk_position' must be 'last' or absent, got {position!r}"
        )
    fields: dict[str, Any] = {"content": content, "id": message_id, "chunk_position": position}
    for key in ("usage_metadata", "response_metadata"):
        if data.get(key) is not None:
            fields[key] = data[key]
    try:
        return AIMessageChunk(**fields)
    except ValidationError as exc:
        raise ValueError(f"custom event {name!r}: invalid payload: {exc}") from exc


class TokenEvents(BaseCallbackHandler):
    """Turns custom token events into ``messages``-mode chunks.

    Add it to ``config["callbacks"]`` (per run, or ``graph.with_config``). For
    each custom event whose name is in ``names``, the payload becomes an
    ``AIMessageChunk``: ``content`` (required), ``id``, ``usage_metadata``,
    ``response_metadata`` and ``chunk_position`` are read, other keys ignored.
    Chunks with the same ``id`` under the same run are one message (id-less
    events of a run share one generated id); the message ends at a chunk with
    ``chunk_position="last"`` or when the run that dispatched it ends, so a
    node returning that message does not emit it twice.
    """

    run_inline = True  # in the dispatching thread, in order with the tokens
    raise_error = True  # a malformed payload must reach the node, not a log line

    def __init__(
        self,
        names: Iterable[str] = ("custom_token",),
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        if isinstance(names, str):
            names = (names,)
        self.names = frozenset(names)
        if not self.names:
            raise ValueError("TokenEvents needs at least one event name, e.g. ('custom_token',)")
        self._spec = ChatRunSpec(
            "custom_token_events", {"ls_provider": provider, "ls_model_name": model}
        )
        self._open: dict[_Key, ChatRun] = {}
        self._by_parent: dict[UUID, list[_Key]] = {}

    # -- events in

    def _chunk(
        self, name: str, data: Any, run_id: UUID
    ) -> tuple[_Key, AIMessageChunk, ChatRun | None]:
        chunk = parse_payload(name, data)
        key = (run_id, chunk.id)
        return key, chunk, self._open.get(key)

    def _register(self, key: _Key, manager: Manager | None, chunk: AIMessageChunk) -> ChatRun:
        state = ChatRun(manager, chunk.id)
        self._open[key] = state
        self._by_parent.setdefault(key[0], []).append(key)
        return state

    def _forget(self, key: _Key) -> ChatRun | None:
        state = self._open.pop(key, None)
        keys = self._by_parent.get(key[0])
        if keys is not None:
            keys.remove(key)
            if not keys:
                del self._by_parent[key[0]]
        return state

    def _on_custom_event_sync(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if name not in self.names:
            return
        key, chunk, state = self._chunk(name, data, run_id)
        if state is None:
            manager = self._spec.start(ensure_config(), parent_run_id=run_id)
            state = self._register(key, manager, chunk)
        state.token(chunk)
        if chunk.chunk_position == "last":
            self._finish_sync(key, None)

    async def _on_custom_event_async(
        self, name: str, data: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        if name not in self.names:
            return
        key, chunk, state = self._chunk(name, data, run_id)
        if state is None:
            manager = await self._spec.astart(ensure_config(), parent_run_id=run_id)
            state = self._register(key, manager, chunk)
        await state.atoken(chunk)
        if chunk.chunk_position == "last":
            await self._finish_async(key, None)

    on_custom_event = _dual("_on_custom_event_sync", "_on_custom_event_async")  # type: ignore[assignment]

    # -- closing: at the last chunk, or when the dispatching run ends

    def _finish_sync(self, key: _Key, error: BaseException | None) -> None:
        state = self._forget(key)
        if state is not None:
            state.end(error)

    async def _finish_async(self, key: _Key, error: BaseException | None) -> None:
        state = self._forget(key)
        if state is not None:
            await state.aend(error)

    def _end_sync(self, *args: Any, run_id: UUID, **kwargs: Any) -> None:
        for key in list(self._by_parent.get(run_id, ())):
            self._finish_sync(key, None)

    async def _end_async(self, *args: Any, run_id: UUID, **kwargs: Any) -> None:
        for key in list(self._by_parent.get(run_id, ())):
            await self._finish_async(key, None)

    def _error_sync(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        for key in list(self._by_parent.get(run_id, ())):
            self._finish_sync(key, error)

    async def _error_async(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        for key in list(self._by_parent.get(run_id, ())):
            await self._finish_async(key, error)

    on_chain_end = _dual("_end_sync", "_end_async")  # type: ignore[assignment]
    on_tool_end = _dual("_end_sync", "_end_async")  # type: ignore[assignment]
    on_retriever_end = _dual("_end_sync", "_end_async")  # type: ignore[assignment]
    on_chain_error = _dual("_error_sync", "_error_async")  # type: ignore[assignment]
    on_tool_error = _dual("_error_sync", "_error_async")  # type: ignore[assignment]
    on_retriever_error = _dual("_error_sync", "_error_async")  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TokenEvents(names={sorted(self.names)!r})"
