"""Cancellation: the consumer stops, the HTTP response is closed at once, callbacks hear of it.

Chosen contract (documented in the README): ``on_llm_error`` fires with the
cancellation exception. Under ``stream``/``astream`` langchain-core passes the
chunks received as ``response.generations[0][0]``; under every path the
exception carries ``.partial`` (the visible message, usage so far included)
once streamtap has seen it. The server must observe the client hang up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.tracers._streaming import _StreamingCallbackHandler

import streamtap
from tests.resilience import _server as S
from tests.resilience.conftest import FAST, make, watchdogs

WIRES = ("anthropic", "openai")


class Recorder(BaseCallbackHandler):
    """Remembers how each LLM run ended."""

    def __init__(self) -> None:
        self.errors: list[tuple[BaseException, LLMResult | None]] = []
        self.ends: list[LLMResult] = []
        self.done = threading.Event()

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        response: LLMResult | None = None,
        **kwargs: Any,
    ) -> None:
        self.errors.append((error, response))
        self.done.set()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.ends.append(response)
        self.done.set()


class TokenRecorder(Recorder, _StreamingCallbackHandler[Any]):
    """Also counts tokens; being a streaming handler makes invoke stream them."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[Any] = []
        self.two_tokens = threading.Event()

    def tap_output_iter(self, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
        return output

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.tokens.append(token)
        if len(self.tokens) == 2:
            self.two_tokens.set()


def slow_model(script: S.Script, wire: str, **options: Any) -> Any:
    # Timeouts set so that the sync path runs its watchdog thread too.
    return streamtap.resilient(
        make(script, wire), retry=FAST, first_token_timeout=2.0, idle_timeout=2.0, **options
    )


def _partial_text(response: LLMResult | None) -> str:
    assert response is not None and response.generations
    return str(response.generations[0][0].message.content)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("how", ["break", "close"])
def test_sync_consumer_stops(server: S.FaultServer, wire: str, how: str) -> None:
    script = server.script(S.stall(2, keepalive=0.05))
    recorder = Recorder()
    stream = slow_model(script, wire).stream("hi", config={"callbacks": [recorder]})
    seen = []
    for chunk in stream:
        seen.append(chunk.content)
        if len(seen) == 2:
            break
    if how == "close":
        stream.close()
    del stream  # no gc.collect(): the close must not wait for the garbage collector
    assert script.wait_closed(0, timeout=2.0), "the HTTP response was not closed"
    assert watchdogs() == []
    assert recorder.ends == []
    ((error, response),) = recorder.errors
    assert isinstance(error, GeneratorExit)
    assert _partial_text(response) == "Hello wor"
    assert len(script.requests) == 1  # nothing retried behind the consumer's back


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("how", ["aclose", "break", "cancel"])
async def test_async_consumer_stops(server: S.FaultServer, wire: str, how: str) -> None:
    script = server.script(S.stall(2, keepalive=0.05))
    recorder = Recorder()
    model = slow_model(script, wire)
    got_two = asyncio.Event()
    seen: list[Any] = []

    async def consume() -> None:
        stream = model.astream("hi", config={"callbacks": [recorder]})
        async for chunk in stream:
            seen.append(chunk.content)
            if len(seen) == 2:
                got_two.set()
                if how == "aclose":
                    await stream.aclose()  # type: ignore[attr-defined]
                    return
                if how == "break":
                    break

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_two.wait(), 3)
    if how == "cancel":
        await asyncio.sleep(0.05)
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for _ in range(5):  # a dropped async generator is finalized on a later loop tick
        await asyncio.sleep(0.01)
    assert await asyncio.to_thread(script.wait_closed, 0, 2.0), "response not closed"
    assert recorder.ends == []
    ((error, response),) = recorder.errors
    assert isinstance(error, (GeneratorExit, asyncio.CancelledError))
    assert _partial_text(response) == "Hello wor"
    assert len(script.requests) == 1


@pytest.mark.parametrize("wire", WIRES)
async def test_ainvoke_cancelled_reports_the_partial(server: S.FaultServer, wire: str) -> None:
    script = server.script(S.stall(2, keepalive=0.05))
    recorder = TokenRecorder()
    model = slow_model(script, wire)
    task = asyncio.create_task(model.ainvoke("hi", config={"callbacks": [recorder]}))
    await asyncio.to_thread(recorder.two_tokens.wait, 3)  # then the stream stalls
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    assert await asyncio.to_thread(script.wait_closed, 0, 2.0)
    partial = info.value.partial  # type: ignore[attr-defined]
    assert partial.content == "Hello wor"
    assert partial.response_metadata["attempts"][0]["next"] == "stopped"
    if wire == "anthropic":  # message_start already reported the input tokens
        assert partial.usage_metadata["input_tokens"] == 12
    await asyncio.to_thread(recorder.done.wait, 2)
    ((error, _),) = recorder.errors
    assert error is info.value


@pytest.mark.parametrize("wire", WIRES)
def test_invoke_in_a_thread_abandoned_by_a_graph(server: S.FaultServer, wire: str) -> None:
    """A graph run whose consumer walks away mid-answer releases the model's connection."""
    from streamtap.graph import END, START, MessagesState, StateGraph

    script = server.script(S.ok(delay=0.05))  # steady tokens, no timeouts involved
    model = streamtap.resilient(make(script, wire), retry=FAST)

    def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("llm", node)
    graph = graph.add_edge(START, "llm").add_edge("llm", END)
    stream = graph.compile().stream({"messages": [("user", "hi")]}, stream_mode="messages")
    texts = []
    for message, _meta in stream:
        texts.append(message.content)
        if len(texts) == 2:
            break
    stream.close()  # type: ignore[attr-defined]
    assert texts == ["Hello ", "wor"]
    start = time.monotonic()
    assert script.wait_closed(0, timeout=3.0), "the node's HTTP response was left open"
    assert time.monotonic() - start < 1.0  # at the node's next token, not at the end
    assert not script.requests[0].finished
    assert len(script.requests) == 1
