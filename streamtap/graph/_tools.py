"""The ``tools`` stream mode: a tool call's lifecycle, as LangGraph streams it.

LangChain's ``on_tool_*`` callbacks become ``tool-started`` / ``tool-output-delta`` /
``tool-finished`` / ``tool-error`` payloads keyed by ``tool_call_id``, streamed in the
namespace of the graph the tool runs in. While a tool runs, its writer is the current
``tool_call_writer`` (LangGraph's ``_tool_call_writer`` too, when langgraph-prebuilt's
``ToolRuntime.emit_output_delta``, which reads it, is loaded), so a tool streams partial
output without a writer in its signature. An interrupted tool is paused, not failed: it
reports its start and end again when it runs on resume.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from streamtap._compat import StreamingCallbackHandler
from streamtap.graph.errors import GraphDrained, GraphInterrupt
from streamtap.middleware._messages import graph_namespace

__all__ = ["StreamToolCallHandler", "tool_call_writer"]

T = TypeVar("T")
ToolCallWriter = Callable[[Any], None]

#: the running tool call's ``tool-output-delta`` writer
tool_call_writer: ContextVar[ToolCallWriter | None] = ContextVar(
    "streamtap_tool_call_writer", default=None
)


def _writer_vars() -> list[ContextVar[ToolCallWriter | None]]:
    """Ours, and LangGraph's if its module is loaded (never imported from here)."""
    found = [tool_call_writer]
    langgraph = sys.modules.get("langgraph.pregel._tools")
    if langgraph is not None:
        found.append(langgraph._tool_call_writer)
    return found


class StreamToolCallHandler(BaseCallbackHandler, StreamingCallbackHandler[Any]):
    """Streams tool-call events to ``stream``; attached when ``tools`` mode is asked for."""

    run_inline = True  # keeps the events in order with the rest of the stream

    def __init__(
        self,
        stream: Callable[[tuple[tuple[str, ...], str, Any]], None],
        subgraphs: bool,
        *,
        parent_ns: tuple[str, ...] | None = None,
    ) -> None:
        self.stream = stream
        self.subgraphs = subgraphs
        self.parent_ns = parent_ns
        # on_tool_end has no tool_call_id: correlate by run id
        self._calls: dict[UUID, tuple[tuple[str, ...], str, list[tuple[Any, Token[Any]]]]] = {}

    def _ns(
        self, metadata: dict[str, Any] | None, tags: list[str] | None
    ) -> tuple[str, ...] | None:
        if not metadata or (tags and "nostream" in tags):
            return None
        ns = graph_namespace(metadata) if metadata.get("langgraph_checkpoint_ns") else ()
        if not self.subgraphs and ns and ns != self.parent_ns:
            return None
        return ns

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        ns = self._ns(metadata, tags)
        if ns is None:
            return
        call_id = kwargs.get("tool_call_id") or str(run_id)
        name = (serialized or {}).get("name") or kwargs.get("name") or ""

        def writer(delta: Any) -> None:
            event = {"event": "tool-output-delta", "tool_call_id": call_id, "delta": delta}
            self.stream((ns, "tools", event))

        tokens = [(var, var.set(writer)) for var in _writer_vars()]
        self._calls[run_id] = (ns, call_id, tokens)
        payload: dict[str, Any] = {"event": "tool-started", "tool_call_id": call_id}
        payload["tool_name"] = name
        if inputs is not None:
            payload["input"] = inputs
        self.stream((ns, "tools", payload))

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> Any:
        if (call := self._ended(run_id)) is not None:
            ns, call_id = call
            event = {"event": "tool-finished", "tool_call_id": call_id, "output": output}
            self.stream((ns, "tools", event))

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> Any:
        call = self._ended(run_id)
        if call is not None and not isinstance(error, GraphInterrupt | GraphDrained):
            ns, call_id = call
            event = {"event": "tool-error", "tool_call_id": call_id, "message": str(error)}
            self.stream((ns, "tools", event))

    def _ended(self, run_id: UUID) -> tuple[tuple[str, ...], str] | None:
        found = self._calls.pop(run_id, None)
        if found is None:
            return None
        ns, call_id, tokens = found
        for var, token in tokens:
            # ended in another context than it started: harmless
            with contextlib.suppress(ValueError):
                var.reset(token)
        return ns, call_id

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output
