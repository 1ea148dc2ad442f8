"""Graphs whose node streams a vendor SDK by hand, next to the same graph using a chat model.

Every graph here is built twice from one function, on ``streamtap.graph`` and on
LangGraph, so the same assertion checks both runtimes. The SDKs talk to
respx-replayed fixtures (``tests/_fixtures.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import anthropic
import openai
import pytest
import respx
from langchain_core.messages import BaseMessage

from streamtap.middleware import astream_tokens, stream_tokens
from streamtap.providers import StreamtapChatModel
from tests.providers.conftest import API_KEY, make_model

WIRES = ("openai", "anthropic", "openai-responses")
MODELS = {"openai": "gpt-4o", "openai-responses": "gpt-5", "anthropic": "claude-sonnet-4-6"}
MAX_TOKENS = 64
TEMPERATURE = 0.5  # OpenAI wires only: this anthropic SDK's create() takes no temperature
IMPLS = ("streamtap", "langgraph")


def impl(name: str) -> SimpleNamespace:
    if name == "streamtap":
        import streamtap.graph as g

        return SimpleNamespace(
            name=name, StateGraph=g.StateGraph, START=g.START, MessagesState=g.MessagesState
        )
    from langgraph.graph import START, MessagesState, StateGraph

    return SimpleNamespace(
        name=name, StateGraph=StateGraph, START=START, MessagesState=MessagesState
    )


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def model(wire: str) -> StreamtapChatModel:
    """The streamtap chat model sending the same request as :func:`raw_stream`."""
    if wire == "anthropic":
        return make_model(wire, max_tokens=MAX_TOKENS)
    return make_model(wire, max_tokens=MAX_TOKENS, temperature=TEMPERATURE)


def _request(wire: str) -> dict[str, Any]:
    messages = [{"role": "user", "content": "hi"}]
    if wire == "anthropic":
        return {"model": MODELS[wire], "max_tokens": MAX_TOKENS, "messages": messages}
    common = {"model": MODELS[wire], "temperature": TEMPERATURE}
    if wire == "openai":
        return {**common, "max_completion_tokens": MAX_TOKENS, "messages": messages}
    return {**common, "max_output_tokens": MAX_TOKENS, "input": "hi"}


def raw_stream(wire: str) -> Any:
    """``create(stream=True)`` on the official SDK: the stream a user would hold."""
    if wire == "anthropic":
        return anthropic.Anthropic(api_key=API_KEY, max_retries=0).messages.create(
            **_request(wire), stream=True
        )
    client = openai.OpenAI(api_key=API_KEY, max_retries=0)
    if wire == "openai":
        return client.chat.completions.create(**_request(wire), stream=True)
    return client.responses.create(**_request(wire), stream=True)


async def araw_stream(wire: str) -> Any:
    if wire == "anthropic":
        client = anthropic.AsyncAnthropic(api_key=API_KEY, max_retries=0)
        return await client.messages.create(**_request(wire), stream=True)
    aclient = openai.AsyncOpenAI(api_key=API_KEY, max_retries=0)
    if wire == "openai":
        return await aclient.chat.completions.create(**_request(wire), stream=True)
    return await aclient.responses.create(**_request(wire), stream=True)


# --------------------------------------------------------------------------- nodes


def raw_node(wire: str) -> Callable[[Any], dict[str, Any]]:
    def llm(state: Any) -> dict[str, Any]:
        tokens = stream_tokens(raw_stream(wire))
        for _ in tokens:
            pass
        return {"messages": [tokens.message]}

    return llm


def araw_node(wire: str) -> Callable[[Any], Any]:
    async def llm(state: Any) -> dict[str, Any]:
        tokens = astream_tokens(await araw_stream(wire))
        async for _ in tokens:
            pass
        return {"messages": [tokens.message]}

    return llm


def model_node(wire: str) -> Callable[[Any], dict[str, Any]]:
    chat = model(wire)

    def llm(state: Any) -> dict[str, Any]:
        return {"messages": [chat.invoke(state["messages"])]}

    return llm


def amodel_node(wire: str) -> Callable[[Any], Any]:
    chat = model(wire)

    async def llm(state: Any) -> dict[str, Any]:
        return {"messages": [await chat.ainvoke(state["messages"])]}

    return llm


def one_node(g: Any, node: Callable[[Any], Any], name: str = "llm") -> Any:
    builder = g.StateGraph(g.MessagesState)
    builder.add_node(name, node)
    builder.add_edge(g.START, name)
    return builder.compile()


def nested(g: Any, node: Callable[[Any], Any]) -> Any:
    """Parent ``START -> sub``, where ``sub`` is a compiled graph ``START -> inner``."""
    builder = g.StateGraph(g.MessagesState)
    builder.add_node("sub", one_node(g, node, "inner"))
    builder.add_edge(g.START, "sub")
    return builder.compile()


INPUT = {"messages": [("user", "hi")]}


# --------------------------------------------------------------------------- comparing output


def _metadata_view(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata with the per-run task ids blanked (they differ between any two runs)."""
    out = dict(metadata)
    for key in ("checkpoint_ns", "langgraph_checkpoint_ns"):
        if key in out:
            out[key] = "|".join(part.split(":")[0] for part in str(out[key]).split("|"))
    return out


def _ns_view(ns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.split(":")[0] for part in ns)


def view(item: Any) -> Any:
    """One ``messages``-mode item with run-specific ids normalized, for equality checks."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], tuple):
        return (_ns_view(item[0]), view(item[1]))
    message, metadata = item
    assert isinstance(message, BaseMessage)
    return (type(message).__name__, message.model_dump(), _metadata_view(metadata))


def views(items: list[Any]) -> list[Any]:
    return [view(item) for item in items]
