"""The ``messages`` stream mode as a langchain-core callback handler.

Attached to a graph run's inheritable callbacks, it sees every chat model
called under any node (sync, async, or in a thread with a copied context) and
turns its callbacks into ``(namespace, "messages", (message, metadata))``
items on the run's queue:

* ``on_chat_model_start`` records the run's metadata once (namespace, tags);
* ``on_llm_new_token`` puts the chunk with that precomputed metadata: one dict
  lookup and one queue put per token, nothing else;
* ``on_llm_end`` puts the whole message only if it was not streamed;
* node outputs (``on_chain_end`` of the node run) put messages not seen yet
  (a hand-built ``AIMessage``, a ``ToolMessage``, ``Command.update``).

Subclassing ``_StreamingCallbackHandler`` is what makes ``model.invoke()``
inside a node stream token by token, as it does under LangGraph.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar
from uuid import UUID, uuid4

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from pydantic import BaseModel

from streamtap._compat import StreamingCallbackHandler

__all__ = ["StreamMessagesHandler"]

T = TypeVar("T")
Meta = tuple[tuple[str, ...], dict[str, Any]]
Put = Callable[[tuple[tuple[str, ...], str, Any]], None]

_NOSTREAM = "nostream"
_PUSH = "__pregel_push"  # LangGraph's PUSH path marker (streamtap.graph's, a layer up)
_HIDDEN = "langsmith:hidden"


def graph_namespace(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    """The namespace of the graph a task runs in: its checkpoint ns minus its own segment,
    and one more per enclosing ``@task`` call (LangGraph's): a call runs in its caller's
    graph but nests its segment under the caller's. A call's ``langgraph_path`` is
    ``(PUSH, <caller's path>, <index>, True)``; a ``Send`` task's ends in ``False``."""
    ns = tuple(str(metadata["langgraph_checkpoint_ns"]).split("|"))
    path = metadata.get("langgraph_path", ())
    drop = 1
    while len(path) == 4 and path[0] == _PUSH and path[-1] is True:
        drop += 1
        path = path[1]
    return ns[:-drop]


def _state_values(obj: Any) -> Sequence[Any]:
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, BaseModel):
        return [getattr(obj, k) for k in type(obj).model_fields]
    if is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name) for f in fields(obj)]
    return ()


class StreamMessagesHandler(BaseCallbackHandler, StreamingCallbackHandler[Any]):
    """Feeds a graph's ``messages`` stream mode from chat-model and node callbacks."""

    run_inline = True  # called in the producing thread, in order, no executor hop

    def __init__(
        self,
        put: Put,
        subgraphs: bool,
        *,
        parent_ns: tuple[str, ...] | None = None,
        command_types: tuple[type, ...] = (),
    ):
        self.put = put
        # The graph's Command class(es): a node returning one updates state with
        # ``.update``, where any new messages are. Passed in so middleware stays below graph.
        self.command_types = command_types
        self.subgraphs = subgraphs
        self.parent_ns = parent_ns
        self.metadata: dict[UUID, Meta] = {}
        self.seen: set[Any] = set()

    # -- emitting

    def _emit(self, meta: Meta, message: BaseMessage, *, dedupe: bool = False) -> None:
        if dedupe and message.id in self.seen:
            return
        if message.id is None:
            message.id = str(uuid4())  # mutates: the stored message keeps the streamed id
        self.seen.add(message.id)
        self.put((meta[0], "messages", (message, meta[1])))

    def _find_and_emit(self, meta: Meta, response: Any) -> None:
        if isinstance(response, BaseMessage):
            self._emit(meta, response, dedupe=True)
        elif isinstance(response, Sequence) and not isinstance(response, str):
            for value in response:
                if isinstance(value, BaseMessage):
                    self._emit(meta, value, dedupe=True)
        else:
            for value in _state_values(response):
                if isinstance(value, BaseMessage):
                    self._emit(meta, value, dedupe=True)
                elif isinstance(value, Sequence) and not isinstance(value, str):
                    for item in value:
                        if isinstance(item, BaseMessage):
                            self._emit(meta, item, dedupe=True)

    def _register(self, run_id: UUID, metadata: dict[str, Any]) -> Meta | None:
        ns = graph_namespace(metadata)
        if not self.subgraphs and ns and ns != self.parent_ns:
            return None
        meta = (ns, metadata)
        self.metadata[run_id] = meta
        return meta

    # -- streaming protocol (identity taps)

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output

    # -- chat models

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not metadata or "langgraph_checkpoint_ns" not in metadata:
            return
        if tags and _NOSTREAM in tags:
            return
        if tags and (user_tags := [t for t in tags if not t.startswith("seq:step")]):
            metadata["tags"] = user_tags
        self._register(run_id, metadata)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        if isinstance(chunk, ChatGenerationChunk):
            self.on_message_token(chunk.message, run_id)

    def on_message_token(self, message: BaseMessage, run_id: UUID) -> None:
        """``on_llm_new_token`` for a chunk streamtap's own models made: the message
        itself, no ``ChatGenerationChunk`` around it (``providers._dispatch`` calls this
        directly when every token listener has it)."""
        meta = self.metadata.get(run_id)
        if meta is None:
            return
        if message.id is None:
            message.id = str(uuid4())
        self.seen.add(message.id)
        self.put((meta[0], "messages", (message, meta[1])))

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        meta = self.metadata.pop(run_id, None)
        if meta is not None and response.generations and response.generations[0]:
            gen = response.generations[0][0]
            if isinstance(gen, ChatGeneration):
                self._emit(meta, gen.message, dedupe=True)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.metadata.pop(run_id, None)

    # -- nodes

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if (
            not metadata
            or kwargs.get("name") != metadata.get("langgraph_node")
            or (tags and _HIDDEN in tags)
        ):
            return
        if self._register(run_id, metadata) is None:
            return
        for value in _state_values(inputs):
            if isinstance(value, BaseMessage):
                if value.id is not None:
                    self.seen.add(value.id)
            elif isinstance(value, Sequence) and not isinstance(value, str):
                for item in value:
                    if isinstance(item, BaseMessage) and item.id is not None:
                        self.seen.add(item.id)

    def on_chain_end(
        self,
        outputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        meta = self.metadata.pop(run_id, None)
        if meta is None:
            return
        command = self.command_types
        if command and isinstance(outputs, command):
            self._find_and_emit(meta, outputs.update)  # type: ignore[attr-defined]
        elif (
            command
            and isinstance(outputs, Sequence)
            and any(isinstance(v, command) for v in outputs)
        ):
            for value in outputs:
                update = value.update if isinstance(value, command) else value  # type: ignore[attr-defined]
                self._find_and_emit(meta, update)
        else:
            self._find_and_emit(meta, outputs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        self.metadata.pop(run_id, None)
