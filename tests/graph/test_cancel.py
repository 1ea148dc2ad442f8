"""The consumer stops early: nodes stop, model streams close, nothing leaks, next run works."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import respx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import Field

import streamtap.graph as st
from tests.graph._fakes import TokenFake


def graph_for(model: TokenFake, *, asynchronous: bool) -> Any:
    events = model.events

    if asynchronous:

        async def llm(state: Any) -> dict[str, Any]:
            try:
                return {"messages": [await model.ainvoke(state["messages"])]}
            except asyncio.CancelledError:
                events.append("node cancelled")
                raise

    else:

        def llm(state: Any) -> dict[str, Any]:  # type: ignore[misc]
            return {"messages": [model.invoke(state["messages"])]}

    def after(state: Any) -> dict[str, Any]:
        events.append("after ran")
        return {}

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", llm)
    builder.add_node("after", after)
    builder.add_edge(st.START, "llm")
    builder.add_edge("llm", "after")
    return builder.compile()


def graph_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("streamtap-graph", "asyncio_"))]


INPUT = {"messages": [("user", "hi")]}


def test_sync_break_closes_model_stream_and_next_run_works() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)], delay=0.02)
    graph = graph_for(model, asynchronous=False)
    gen = graph.stream(INPUT, stream_mode="messages")
    first = next(gen)
    assert first[0].content == "t0"
    start = time.monotonic()
    gen.close()
    # close() returns once the node thread has unwound (its next token put is refused)
    assert time.monotonic() - start < 0.5
    assert model.events == ["open", "closed"]
    assert "after ran" not in model.events
    assert not [t for t in graph_threads() if t.name.startswith("streamtap-graph")]
    model.events.clear()
    model.tokens = ["x", "y"]
    out = list(graph.stream(INPUT, stream_mode="messages"))
    assert [m.content for m, _ in out] == ["x", "y", ""]


async def test_async_break_and_aclose_cancels_node() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)], delay=0.02)
    graph = graph_for(model, asynchronous=True)
    agen = graph.astream(INPUT, stream_mode="messages")
    async for _ in agen:
        break
    await agen.aclose()
    assert "node cancelled" in model.events
    await asyncio.sleep(0.05)  # the model's async generator is finalised by the loop
    assert "closed" in model.events
    assert "after ran" not in model.events
    model.events.clear()
    model.tokens = ["x"]
    out = [m.content async for m, _ in graph.astream(INPUT, stream_mode="messages")]
    assert out == ["x", ""]


async def test_async_break_without_aclose_cancels_on_gc() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)], delay=0.02)
    graph = graph_for(model, asynchronous=True)

    async def consume() -> None:
        async for _ in graph.astream(INPUT, stream_mode="messages"):
            break

    await consume()
    gc.collect()
    for _ in range(50):
        if "node cancelled" in model.events:
            break
        await asyncio.sleep(0.01)
    assert "node cancelled" in model.events


async def test_async_sync_node_thread_stops_producing_after_aclose() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)], delay=0.02)
    graph = graph_for(model, asynchronous=False)
    agen = graph.astream(INPUT, stream_mode="messages")
    async for _ in agen:
        break
    await agen.aclose()
    await asyncio.sleep(0.1)  # the thread's next token put is refused: it unwinds
    assert model.events == ["open", "closed"]
    assert "after ran" not in model.events


async def test_task_cancellation_of_consumer_cancels_node() -> None:
    model = TokenFake(tokens=[f"t{i}" for i in range(50)], delay=0.02)
    graph = graph_for(model, asynchronous=True)

    async def consume() -> None:
        async for _ in graph.astream(INPUT, stream_mode="messages"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert "node cancelled" in model.events


class HttpModel(BaseChatModel):
    """Streams lines of a (mocked) HTTP response, like a provider adapter would."""

    responses: list[Any] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "http-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        raise NotImplementedError

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        with httpx.Client() as client, client.stream("GET", "https://llm.test/stream") as resp:
            self.responses.append(resp)
            for line in resp.iter_lines():
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=line))
                if run_manager:
                    run_manager.on_llm_new_token(line, chunk=chunk)
                yield chunk


SENT: list[int] = []


def slow_body() -> Iterator[bytes]:
    for i in range(100):
        time.sleep(0.01)
        SENT.append(i)
        yield f"tok{i}\n".encode()


@respx.mock
def test_sync_break_releases_http_response() -> None:
    respx.get("https://llm.test/stream").mock(return_value=httpx.Response(200, content=slow_body()))
    model = HttpModel(responses=[])
    SENT.clear()

    def llm(state: Any) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", llm)
    builder.add_edge(st.START, "llm")
    gen = builder.compile().stream(INPUT, stream_mode="messages")
    assert next(gen)[0].content == "tok0"
    start = time.monotonic()
    gen.close()
    (resp,) = model.responses
    assert resp.is_closed
    # released at once, not after draining the remaining ~1 s of body
    assert time.monotonic() - start < 0.3
    assert len(SENT) < 30


class AsyncHttpModel(HttpModel):
    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        async with (
            httpx.AsyncClient() as client,
            client.stream("GET", "https://llm.test/stream") as resp,
        ):
            self.responses.append(resp)
            async for line in resp.aiter_lines():
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=line))
                if run_manager:
                    await run_manager.on_llm_new_token(line, chunk=chunk)
                yield chunk


async def slow_abody() -> AsyncIterator[bytes]:
    for i in range(100):
        await asyncio.sleep(0.01)
        SENT.append(i)
        yield f"tok{i}\n".encode()


@respx.mock
async def test_async_aclose_releases_http_response() -> None:
    respx.get("https://llm.test/stream").mock(
        return_value=httpx.Response(200, content=slow_abody())
    )
    model = AsyncHttpModel(responses=[])
    SENT.clear()

    async def llm(state: Any) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = st.StateGraph(st.MessagesState)
    builder.add_node("llm", llm)
    builder.add_edge(st.START, "llm")
    agen = builder.compile().astream(INPUT, stream_mode="messages")
    async for msg, _ in agen:
        assert msg.content == "tok0"
        break
    await agen.aclose()
    await asyncio.sleep(0.05)  # the cancelled model generator is finalised by the loop
    (resp,) = model.responses
    assert resp.is_closed
    assert len(SENT) < 30
