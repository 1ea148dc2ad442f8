"""Test doubles and a real uvicorn server on 127.0.0.1 for the server tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import uvicorn
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from streamtap.graph import END, START, MessagesState, StateGraph, get_stream_writer, interrupt


class ScriptedChat(BaseChatModel):
    """Streams a fixed list of chunks, optionally paced, and records when its stream closes.

    ``closed`` gets ``"finished"`` when the stream ran to the end and ``"closed"``
    when it was closed early (cancellation), which is what the disconnect tests check.
    """

    tokens: list[str] = Field(default_factory=lambda: ["Hel", "lo", "!"])
    delay: float = 0.0
    tool_call: dict[str, Any] | None = None
    reasoning: list[str] = Field(default_factory=list)
    usage: dict[str, int] | None = None
    fail_after: int | None = None
    events: list[str] = Field(default_factory=list)
    message_id: str | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _chunks(self) -> Iterator[AIMessageChunk]:
        for text in self.reasoning:
            yield AIMessageChunk(
                content=[{"type": "reasoning", "reasoning": text, "index": 0}], id=self.message_id
            )
        for i, tok in enumerate(self.tokens):
            if self.fail_after is not None and i == self.fail_after:
                raise RuntimeError("model exploded (key sk-abcdefghijklmnopqrstuv)")
            yield AIMessageChunk(content=tok, id=self.message_id)
        if self.tool_call is not None:
            args = self.tool_call["args"]
            for j, part in enumerate((args[: len(args) // 2], args[len(args) // 2 :])):
                yield AIMessageChunk(
                    content="",
                    id=self.message_id,
                    tool_call_chunks=[
                        {
                            "name": self.tool_call["name"] if j == 0 else None,
                            "args": part,
                            "id": self.tool_call["id"] if j == 0 else None,
                            "index": 0,
                            "type": "tool_call_chunk",
                        }
                    ],
                )
        if self.usage is not None:
            total = self.usage["input_tokens"] + self.usage["output_tokens"]
            yield AIMessageChunk(
                content="",
                id=self.message_id,
                usage_metadata={**self.usage, "total_tokens": total},  # type: ignore[typeddict-item]
                response_metadata={"finish_reason": "stop"},
            )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self.tokens)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.events.append("opened")
        status = "closed"
        try:
            for chunk in self._chunks():
                if self.delay:
                    time.sleep(self.delay)
                gen = ChatGenerationChunk(message=chunk)
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=gen)
                yield gen
            status = "finished"
        finally:
            self.events.append(status)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.events.append("opened")
        status = "closed"
        try:
            for chunk in self._chunks():
                await asyncio.sleep(self.delay)
                gen = ChatGenerationChunk(message=chunk)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=gen)
                yield gen
            status = "finished"
        finally:
            self.events.append(status)


def chat_graph(model: BaseChatModel, *, progress: Sequence[int] = (), sync: bool = False) -> Any:
    """START -> agent -> END; ``agent`` reports ``progress`` as custom events, then streams."""

    async def agent(state: MessagesState) -> dict[str, Any]:
        writer = get_stream_writer()
        for pct in progress:
            writer({"progress": pct})
        return {"messages": [await model.ainvoke(state["messages"])]}

    def agent_sync(state: MessagesState) -> dict[str, Any]:
        writer = get_stream_writer()
        for pct in progress:
            writer({"progress": pct})
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent_sync if sync else agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    return builder.compile()


def approval_graph(model: BaseChatModel) -> Any:
    """agent -> approve (interrupt) -> END: a run pauses and a Command(resume) continues it."""

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def approve(state: MessagesState) -> dict[str, Any]:
        answer = interrupt({"question": "send it?"})
        return {"messages": [AIMessage(f"approved: {answer}", id="approval")]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("approve", approve)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "approve")
    builder.add_edge("approve", END)
    return builder.compile()


class LiveServer:
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop")
