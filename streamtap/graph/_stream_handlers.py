"""The callback handlers a run attaches for its ``messages`` and ``tools`` stream modes.

A ``stream_events(version="v3")`` run asks for ``messages`` with a config flag; its
handler is then the v2 one (LangGraph's ``StreamMessagesHandlerV2``): being a
``_V2StreamingCallbackHandler`` makes ``BaseChatModel.invoke`` stream content-block
protocol events (``on_stream_event``) instead of ``AIMessageChunk`` tokens, and those
events are what LangGraph's ``MessagesTransformer`` builds ``run.messages`` from.
Only ``version="v2"`` streams take the flag: a node's own ``stream(stream_mode=
"messages")`` (v1) under a v3 run keeps the chunk shape, as under LangGraph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from streamtap.graph._constants import CONF, KEY_TASK
from streamtap.graph._tools import StreamToolCallHandler
from streamtap.graph.types import Command
from streamtap.middleware._messages import Meta, StreamMessagesHandler, _state_values

try:
    from langchain_core.tracers._streaming import _V2StreamingCallbackHandler
except ImportError:  # a langchain-core without the v3 protocol: no v2 routing
    _V2StreamingCallbackHandler = object  # type: ignore[assignment,misc]

__all__ = [
    "KEY_STREAM_MESSAGES_V2",
    "StreamMessagesHandlerV2",
    "attach_stream_handlers",
    "ready_callbacks",
]

#: LangGraph's ``CONFIG_KEY_STREAM_MESSAGES_V2``: set by the v3 entry points
KEY_STREAM_MESSAGES_V2 = "__pregel_stream_messages_v2"


class StreamMessagesHandlerV2(StreamMessagesHandler, _V2StreamingCallbackHandler):
    """``messages`` as protocol events, with LangGraph's v2 rules on what else gets in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._streamed_run_ids: set[UUID] = set()

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> Any:
        # A node calling ``model.stream()`` still fires v1 tokens: they must not leak
        # onto a stream whose consumers expect protocol events.
        return None

    def _find_and_emit(self, meta: Meta, response: Any) -> None:
        # Tool results belong on the tools channel and in state: a v3 run does not
        # replay a finished ToolMessage as chat output (LangGraph's MessagesTransformer).
        def emit(value: Any) -> None:
            if isinstance(value, BaseMessage) and not isinstance(value, ToolMessage):
                self._emit(meta, value, dedupe=True)

        if isinstance(response, BaseMessage):
            emit(response)
        elif isinstance(response, Sequence) and not isinstance(response, str):
            for value in response:
                emit(value)
        else:
            for value in _state_values(response):
                if isinstance(value, Sequence) and not isinstance(value, str):
                    for item in value:
                        emit(item)
                else:
                    emit(value)

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        meta = self.metadata.pop(run_id, None)
        streamed = run_id in self._streamed_run_ids
        self._streamed_run_ids.discard(run_id)
        if meta is None or not response.generations or not response.generations[0]:
            return
        gen = response.generations[0][0]
        if not isinstance(gen, ChatGeneration):
            return
        if streamed:  # its events went out already; the node's return must not repeat it
            if gen.message.id is None:
                gen.message.id = str(uuid4())
            self.seen.add(gen.message.id)
        else:
            self._emit(meta, gen.message, dedupe=True)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self._streamed_run_ids.discard(run_id)
        self.metadata.pop(run_id, None)

    def on_stream_event(
        self,
        event: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        meta = self.metadata.get(run_id)
        if meta is None:
            return
        if event.get("event") == "message-start":
            self._streamed_run_ids.add(run_id)
            if msg_id := event.get("message_id"):
                self.seen.add(msg_id)
        # the run id lets MessagesTransformer tie a model call's events to one stream
        self.put((meta[0], "messages", (event, {**meta[1], "run_id": str(run_id)})))


def attach_stream_handlers(
    run_manager: Any,
    put: Callable[[Any], None],
    modes: frozenset[str],
    subgraphs: bool,
    ns: tuple[str, ...],
    config: Any,
    version: str,
) -> None:
    """Join the run's callbacks with the handlers its ``messages`` / ``tools`` modes need."""
    if "messages" in modes:
        v2 = version == "v2" and bool(config[CONF].get(KEY_STREAM_MESSAGES_V2))
        cls = StreamMessagesHandlerV2 if v2 else StreamMessagesHandler
        run_manager.inheritable_handlers.append(
            cls(put, subgraphs, parent_ns=ns, command_types=(Command,))
        )
    if "tools" in modes:  # LangGraph's undocumented mode: tool calls' lifecycle
        run_manager.inheritable_handlers.append(StreamToolCallHandler(put, subgraphs, parent_ns=ns))


def ready_callbacks(manager: Any, config: Any, modes: frozenset[str], version: str) -> None:
    """Drop the inherited stream handlers that must not see this run.

    A v1 ``messages`` stream under a v3 run must not inherit the outer v2 handler: one
    v2 handler anywhere routes ``invoke`` to protocol events, and the inner stream would
    get no chunks. Outside a parent task, a parent's subgraph-less handler must not see
    this graph's events as its own.
    """
    if "ls_integration" not in manager.metadata:
        manager.add_metadata({"ls_integration": "langgraph"})
    drop: list[Callable[[Any], bool]] = []
    if "messages" in modes and version != "v2":
        drop.append(lambda h: isinstance(h, StreamMessagesHandlerV2))
    if KEY_TASK not in config[CONF]:
        own = (StreamMessagesHandler, StreamToolCallHandler)
        drop.append(lambda h: isinstance(h, own) and not h.subgraphs)
    if drop:
        manager.handlers = [h for h in manager.handlers if not any(d(h) for d in drop)]
        manager.inheritable_handlers = [
            h for h in manager.inheritable_handlers if not any(d(h) for d in drop)
        ]
