"""A streamtap graph's ``messages`` mode with a real model, and stopping it mid-answer.

The graph is the demo's: LangGraph's two-node streaming example. The same graph built
with LangGraph itself is the reference for the order of modes and the metadata keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

import streamtap
from streamtap.accumulate import Accumulator
from streamtap.cli._demo_graph import chat_graph, joke_graph
from streamtap.local import LocalServer
from streamtap.providers import StreamtapChatModel

pytestmark = pytest.mark.local_model

MODES = ["messages", "updates", "custom", "values"]
MAX_TOKENS = 24
WIRES = ("llamacpp", "llamacpp-anthropic")
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)
# Keys of LangGraph 1.2's messages metadata for a chat model called in a node.
METADATA_KEYS = {
    "langgraph_step",
    "langgraph_node",
    "langgraph_triggers",
    "langgraph_path",
    "langgraph_checkpoint_ns",
    "checkpoint_ns",
    "ls_provider",
    "ls_model_name",
    "ls_model_type",
    "ls_temperature",
    "ls_max_tokens",
    "ls_integration",
    "lc_versions",
}


@pytest.fixture
def make(local_server: LocalServer) -> Callable[..., StreamtapChatModel]:
    def factory(wire: str = "llamacpp", **kwargs: Any) -> StreamtapChatModel:
        url = (
            local_server.anthropic_base_url
            if wire == "llamacpp-anthropic"
            else local_server.base_url
        )
        params: dict[str, Any] = {
            "base_url": url,
            "temperature": 0,
            "max_tokens": MAX_TOKENS,
            "max_retries": 0,
            "timeout": 60.0,
            **kwargs,
        }
        return streamtap.chat_model(f"{wire}:smollm2", **params)

    return factory


def _messages(items: list[tuple[str, Any]]) -> list[tuple[AIMessageChunk, dict[str, Any]]]:
    return [payload for mode, payload in items if mode == "messages"]


@pytest.mark.parametrize("wire", WIRES)
def test_joke_graph_streams_tokens_between_its_updates(
    wire: str, make: Callable[..., StreamtapChatModel]
) -> None:
    items = list(joke_graph(make(wire)).stream({"topic": "ice cream"}, stream_mode=MODES))

    modes = [mode for mode, _ in items]
    first_token, last_token = (
        modes.index("messages"),
        len(modes) - 1 - modes[::-1].index("messages"),
    )
    assert modes[:first_token] == ["values", "updates", "values", "custom"]
    assert set(modes[first_token : last_token + 1]) == {"messages"}
    assert modes[last_token + 1 :] == ["custom", "updates", "values"]
    assert items[1][1] == {"refine_topic": {"topic": "ice cream and cats"}}
    assert items[3][1] == {"progress": "asking the model", "topic": "ice cream and cats"}

    pairs = _messages(items)
    assert len({chunk.id for chunk, _ in pairs}) == 1, "one id per message"
    for _, metadata in pairs:
        assert set(metadata) == METADATA_KEYS
        assert metadata["langgraph_node"] == "generate_joke"
        assert metadata["langgraph_step"] == 2
        assert metadata["ls_provider"] == "llamacpp"
        assert metadata["ls_model_name"] == "smollm2"
        assert metadata["ls_max_tokens"] == MAX_TOKENS
    acc = Accumulator()
    for chunk, _ in pairs:
        acc.add(chunk)
    streamed = acc.message()
    assert streamed is not None and streamed.text.strip()
    assert pairs[-1][0].chunk_position == "last"
    final = items[-1][1]
    assert final == {"topic": "ice cream and cats", "joke": streamed.text}
    assert items[-2][1] == {"generate_joke": {"joke": streamed.text}}
    assert items[-3][1] == {"progress": "joke received", "characters": len(streamed.text)}


@pytest.mark.parametrize("wire", WIRES)
async def test_chat_graph_final_state_is_the_summed_chunks(
    wire: str, make: Callable[..., StreamtapChatModel]
) -> None:
    graph = chat_graph(make(wire), system="Answer in one sentence.")
    items = [
        item
        async for item in graph.astream(
            {"messages": [("user", "What is the sea?")]}, stream_mode=["messages", "values"]
        )
    ]

    pairs = _messages(items)
    assert len(pairs) >= 3
    assert len({chunk.id for chunk, _ in pairs}) == 1
    acc = Accumulator()
    for chunk, _ in pairs:
        acc.add(chunk)
    streamed = acc.message()
    assert streamed is not None
    final = items[-1][1]["messages"][-1]
    assert final.id == streamed.id
    assert final.content == streamed.content
    assert final.usage_metadata == streamed.usage_metadata
    assert final.response_metadata == streamed.response_metadata


def test_same_stream_as_langgraph(make: Callable[..., StreamtapChatModel]) -> None:
    """LangGraph running the same nodes gives the same modes, keys and (greedy) tokens."""
    langgraph = pytest.importorskip("langgraph.graph")
    from langgraph.config import get_stream_writer

    model = make()

    class State(TypedDict, total=False):
        topic: str
        joke: str

    def refine_topic(state: State) -> State:
        return {"topic": state["topic"] + " and cats"}

    def generate_joke(state: State) -> State:
        writer = get_stream_writer()
        writer({"progress": "asking the model", "topic": state["topic"]})
        joke = model.invoke([("user", f"Generate a joke about {state['topic']}")]).text
        writer({"progress": "joke received", "characters": len(joke)})
        return {"joke": joke}

    builder = langgraph.StateGraph(State)
    builder.add_node("refine_topic", refine_topic)
    builder.add_node("generate_joke", generate_joke)
    builder.add_edge(langgraph.START, "refine_topic")
    builder.add_edge("refine_topic", "generate_joke")
    builder.add_edge("generate_joke", langgraph.END)
    reference = list(builder.compile().stream({"topic": "ice cream"}, stream_mode=MODES))
    ours = list(joke_graph(model).stream({"topic": "ice cream"}, stream_mode=MODES))

    assert [mode for mode, _ in ours] == [mode for mode, _ in reference]
    for (_, (our_chunk, our_meta)), (_, (ref_chunk, ref_meta)) in zip(
        [item for item in ours if item[0] == "messages"],
        [item for item in reference if item[0] == "messages"],
        strict=True,
    ):
        assert our_chunk.content == ref_chunk.content
        assert set(our_meta) == set(ref_meta)
        skip = {"checkpoint_ns", "langgraph_checkpoint_ns"}  # task ids differ
        assert {k: v for k, v in our_meta.items() if k not in skip} == {
            k: v for k, v in ref_meta.items() if k not in skip
        }
    assert ours[-1] == reference[-1]


def test_breaking_out_after_two_tokens_stops_the_model_stream(
    make: Callable[..., StreamtapChatModel],
) -> None:
    responses: list[httpx.Response] = []
    with httpx.Client(
        event_hooks={"response": [responses.append]}, timeout=60.0, limits=NO_KEEPALIVE
    ) as client:
        graph = joke_graph(make(http_client=client, max_tokens=200))
        tokens = 0
        stream = graph.stream({"topic": "dragons"}, stream_mode=["messages", "updates"])
        for mode, _ in stream:
            if mode == "messages":
                tokens += 1
                if tokens == 2:
                    break
        stream.close()  # waits for the node thread to unwind

        assert tokens == 2
        assert len(responses) == 1
        assert responses[0].is_closed, "the node's model stream was closed"

    short = joke_graph(make())
    first = short.invoke({"topic": "ice cream"})
    assert short.invoke({"topic": "ice cream"}) == first, "the server keeps serving, same answer"
    assert first["joke"].strip()


def _async_chat_graph(model: StreamtapChatModel) -> Any:
    from streamtap.graph import END, START, MessagesState, StateGraph

    async def chat(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder.compile()


async def test_async_graph_closed_after_two_tokens(
    make: Callable[..., StreamtapChatModel],
) -> None:
    responses: list[httpx.Response] = []

    async def remember(response: httpx.Response) -> None:
        responses.append(response)

    async with httpx.AsyncClient(
        event_hooks={"response": [remember]}, timeout=60.0, limits=NO_KEEPALIVE
    ) as client:
        graph = _async_chat_graph(
            make("llamacpp-anthropic", http_async_client=client, max_tokens=200)
        )
        stream = graph.astream(
            {"messages": [("user", "Tell me a long story about a dragon.")]},
            stream_mode="messages",
        )
        received = [await anext(stream), await anext(stream)]
        await stream.aclose()

        assert len(received) == 2
        assert len(responses) == 1
        assert responses[0].is_closed
    answer = await _async_chat_graph(make("llamacpp-anthropic")).ainvoke(
        {"messages": [("user", "What is the sea?")]}
    )
    assert answer["messages"][-1].text.strip()
